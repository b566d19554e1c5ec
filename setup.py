"""Packaging for tfcolor: GAN colorization of grayscale photos in TensorFlow 2 / Keras 3."""
from setuptools import find_packages, setup

TENSORFLOW = "2.21.0"

setup(
    name="tfcolor",
    version="0.1.0",
    description="Image colorization with a conditional GAN (Nazeri et al. 2018) in TensorFlow 2 / Keras 3",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    license_files=["LICENSE"],
    python_requires=">=3.10",
    packages=find_packages(include=["tfcolor", "tfcolor.*", "export", "serving"]),
    package_data={"tfcolor.turing": ["page.html"], "serving": ["try_page.html"]},
    # TensorFlow comes in two builds with the same `tensorflow` module, so, as tensorflow-addons and
    # tensorflow-probability do, it is an extra: `tfcolor[cpu]` (tensorflow-cpu: no CUDA probing, a
    # smaller install) or `tfcolor[gpu]` (tensorflow with its CUDA libraries). `make` picks one by
    # whether the machine has an NVIDIA GPU. tensorflow-serving-api (the TF-Serving protos the export's
    # warm-up and the dev server use) names the `tensorflow` distribution as its dependency, so beside
    # tensorflow-cpu it is installed with `--no-deps` (README, "Installing").
    install_requires=[
        "keras>=3.15.0",
        "tensorboard>=2.21.0",
        "keras-tuner[bayesian]>=1.4.8",  # the default --algorithm bayesian needs scikit-learn
        "numpy>=2.0",
        "scikit-image>=0.26.0",
        "matplotlib>=3.9",
        "grpcio>=1.60",
        "protobuf>=5.28",
    ],
    extras_require={
        "cpu": [f"tensorflow-cpu>={TENSORFLOW}"],
        "gpu": [f"tensorflow[and-cuda]>={TENSORFLOW}", f"tensorflow-serving-api>={TENSORFLOW}"],
        # `make test` runs the tests and the lint (ruff, and import-linter's contracts in .importlinter).
        "test": ["pytest>=9.0", "pytest-timeout>=2.4", "pillow>=10.0", "pyyaml>=6.0", "playwright>=1.50",
                 "nbclient>=0.10", "nbformat>=5.10", "ipykernel>=6.29", "prometheus-client>=0.20", "ruff>=0.15",
                 "import-linter>=2.17", "pytest-xdist>=3.6"],
    },
    entry_points={
        "console_scripts": [
            "tfcolor-train=tfcolor.train:main",
            "tfcolor-colorize=tfcolor.colorize:main",
            "tfcolor-export=export.__main__:main",
            "tfcolor-evaluate=tfcolor.evaluate:main",
            "tfcolor-tune=tfcolor.tune:main",
        ]
    },
)
