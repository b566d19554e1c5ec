"""Judging runs: scores against each other and against "keep it gray", the reports, and image grids
(shared with training's sample grids). Imports config, data and models.
"""
