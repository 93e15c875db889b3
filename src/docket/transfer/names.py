"""Which file names docket will create: one plain name, portable to any archive file system.

Names come from providers, so they are refused, not repaired: a silently renamed file no longer
matches its metadata. The rules are those that make a name unsafe or non-portable somewhere a
package may land (POSIX, Windows, archive formats): separators and traversal, NUL and control
characters, Windows reserved characters and device names, trailing dots or spaces, over-long names.
"""

from __future__ import annotations

import unicodedata

from docket.errors import BadInput

#: Windows device names, reserved whatever the extension (``CON.txt`` too), in any case; the
#: superscript digits are reserved as well since Windows 10.
_DEVICES = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$"} | {
    f"{p}{d}" for p in ("COM", "LPT") for d in "0123456789\u00b9\u00b2\u00b3"
}
_WINDOWS_RESERVED = set('<>:"|?*\\')
MAX_NAME_BYTES = 255


def check_name(name: object, *, what: str = "file name") -> str:
    """Return ``name`` if it is one safe, portable file name; BadInput naming it otherwise."""
    if not isinstance(name, str):
        raise BadInput(f"{what} {name!r} is not a string")

    def refuse(why: str) -> BadInput:
        return BadInput(f"{what} {name!r} is refused: {why}")

    if name == "" or name.strip() == "":
        raise refuse("it is empty")
    if "\x00" in name:
        raise refuse("it contains a NUL character")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":" and name[0].isalpha()):
        raise refuse("it is an absolute path")
    if "/" in name or "\\" in name:
        if ".." in name.replace("\\", "/").split("/"):
            raise refuse("it climbs out of its folder (path traversal)")
        raise refuse("it contains a path separator; give a plain file name")
    if set(name) <= {"."}:
        raise refuse("it is only dots")
    for ch in name:
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") and ch != "\u200d":
            raise refuse(f"it contains the control character U+{ord(ch):04X}")
        if ch in _WINDOWS_RESERVED:
            raise refuse(f"it contains {ch!r}, which Windows file systems do not allow")
    if name[-1] in ". ":
        raise refuse("it ends with a dot or a space, which Windows drops")
    stem = name.split(".", 1)[0].rstrip(" ").upper()
    if stem in _DEVICES:
        raise refuse(f"{stem} is a Windows device name")
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise refuse(f"it is longer than {MAX_NAME_BYTES} bytes")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise refuse("it is not valid Unicode (a lone surrogate)") from None
    return name
