"""The verification methods, one class per method, registered here and
nowhere else. A session's `method` is a key of REGISTRY; everything that
differs between methods is asked of the method object.

Adding a method: a module with its class, one line below, and, where its
page is new, a template partial (docs/architecture.md walks through one)."""

from .base import Method
from .faceid_h5 import FaceIdH5
from .faceid_lip import FaceIdLip
from .h5 import JumdataH5
from .juhe_video import JuheVideo
from .juhe_video_auth import JuheVideoAuth
from .tencent_idcard import TencentIdcard
from .tencent_lip import TencentLip
from .tencent_photo import TencentPhoto

REGISTRY: dict[str, Method] = {
    method.name: method
    for method in (
        JumdataH5(), TencentLip(), TencentIdcard(), JuheVideo(), JuheVideoAuth(), TencentPhoto(), FaceIdH5(),
        FaceIdLip(),
    )
}


def method_of(name: str) -> Method:
    """The method registered as `name`; KeyError for an unknown one."""
    return REGISTRY[name]


def choices() -> list[tuple[str, str]]:
    """(name, label) of every method, in registration order."""
    return [(method.name, method.label) for method in REGISTRY.values()]
