"""The visual Turing test: people pick the real photo from a real/colorized pair; we count how often they are fooled."""
