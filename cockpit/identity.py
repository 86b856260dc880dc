"""Who is at the keyboard: the real OS user from the process uid, never ``$USER`` or ``$LOGNAME``."""

from __future__ import annotations

import os
import pwd
import socket
from collections.abc import Mapping

from cockpit.events import Actor


def current_actor(environ: Mapping[str, str] | None = None) -> Actor:
    """The actor for this process.

    The username comes from the password database entry of the real uid, so setting ``$USER``
    changes nothing. The SSH client address (``$SSH_CLIENT``'s first field) is recorded when present:
    it is informative only, since the environment can be set by the user.
    """
    environ = os.environ if environ is None else environ
    uid = os.getuid()
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = f"uid{uid}"
    ssh = (environ.get("SSH_CLIENT") or environ.get("SSH_CONNECTION") or "").split(" ")[0]
    return Actor(user=user, uid=uid, host=socket.gethostname(), ssh=ssh)
