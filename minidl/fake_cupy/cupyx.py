"""``cupyx`` stand-in: the parts minidl reads (``cupyx.scipy.special.erf``)."""
import types

from scipy import special as scipy_special

from minidl.fake_cupy.device_array import ufunc

scipy = types.SimpleNamespace(special=types.SimpleNamespace(erf=ufunc(scipy_special.erf)))
