"""What ``pip install -e ".[extra]"`` brings: the extras a user needs are complete."""
import configparser
from pathlib import Path

SETUP_CFG = Path(__file__).resolve().parents[1] / "setup.cfg"


def extra(name):
    config = configparser.ConfigParser()
    config.read(SETUP_CFG)
    return [line.strip() for line in config["options.extras_require"][name].splitlines() if line.strip()]


def test_the_gpu_extra_brings_the_cuda_toolkit_and_numbas_cuda_target():
    """On a pip-only machine (a driver, no CUDA toolkit) CuPy needs its ``ctk`` extra to compile
    kernels and Numba needs ``numba-cuda`` for its CUDA target."""
    requirements = extra("gpu")
    assert any(r.startswith("cupy-cuda12x[ctk]") for r in requirements), requirements
    assert any(r.startswith("numba-cuda") for r in requirements), requirements


def test_the_test_extra_brings_the_oracle_and_dask():
    requirements = extra("test")
    assert "torch==2.13.0" in requirements
    assert any(r.startswith("dask[distributed]") for r in requirements)


def test_the_stand_ins_cupy_name_list_is_installed_with_the_package():
    config = configparser.ConfigParser()
    config.read(SETUP_CFG)
    assert "cupy_names.txt" in config["options.package_data"]["minidl.fake_cupy"]
