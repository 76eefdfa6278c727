"""JupyterHub for an aelab class on one machine: local users, bound to 127.0.0.1.

Start it as root (the local-process spawner switches to each user's uid):

    AELAB_HUB_INSTRUCTORS=ada AELAB_HUB_STUDENTS=s1,s2 \\
        /opt/aelab-class-venv/bin/jupyterhub -f deploy/jupyterhub_config.py

and put a TLS-terminating reverse proxy in front of 127.0.0.1:8000 before students reach it.
Everything comes from `aelab class env` (an environment every user can run: python, jupyterhub,
jupyterhub-singleuser, the configurable-http-proxy under <env>/proxy). Environment variables:

    AELAB_CLASS_ENV            the shared environment (default /opt/aelab-class-venv)
    AELAB_HUB_STATE            hub database, cookie secret, pid file (default /srv/aelab-hub)
    AELAB_HUB_IP / _PORT       public address (default 127.0.0.1:8000)
    AELAB_HUB_API_PORT         hub's internal API (default 8081), AELAB_PROXY_API_PORT (default 8001)
    AELAB_HUB_AUTH             "pam" (default: the machine's passwords) or "dummy" (tests only)
    AELAB_HUB_DUMMY_PASSWORD   the shared password of the dummy authenticator (required with it)
    AELAB_HUB_INSTRUCTORS      comma-separated admins (they also get the formgrader, see README)
    AELAB_HUB_STUDENTS         comma-separated students allowed to log in

For hundreds of students on a cluster, see deploy/README.md (Zero to JupyterHub).
"""

import os
from pathlib import Path

c = get_config()  # noqa: F821 - provided by traitlets when jupyterhub loads this file

ENV = Path(os.environ.get("AELAB_CLASS_ENV", "/opt/aelab-class-venv"))
STATE = Path(os.environ.get("AELAB_HUB_STATE", "/srv/aelab-hub"))
IP = os.environ.get("AELAB_HUB_IP", "127.0.0.1")
PORT = int(os.environ.get("AELAB_HUB_PORT", "8000"))
HUB_API_PORT = int(os.environ.get("AELAB_HUB_API_PORT", "8081"))
PROXY_API_PORT = int(os.environ.get("AELAB_PROXY_API_PORT", "8001"))


def _names(var: str) -> set[str]:
    return {n.strip() for n in os.environ.get(var, "").split(",") if n.strip()}


instructors = _names("AELAB_HUB_INSTRUCTORS")
students = _names("AELAB_HUB_STUDENTS")

STATE.mkdir(mode=0o700, parents=True, exist_ok=True)

# ---- network: everything on loopback; a reverse proxy (TLS) goes in front for real use
c.JupyterHub.bind_url = f"http://{IP}:{PORT}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = HUB_API_PORT
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{PROXY_API_PORT}"
c.ConfigurableHTTPProxy.command = [str(ENV / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.should_start = True

# ---- state, kept out of the course and the students' reach
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")

# ---- who may log in
if os.environ.get("AELAB_HUB_AUTH", "pam") == "dummy":
    c.JupyterHub.authenticator_class = "dummy"
    c.DummyAuthenticator.password = os.environ["AELAB_HUB_DUMMY_PASSWORD"]
else:
    c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = instructors | students
c.Authenticator.admin_users = instructors

# ---- each user's server: their own uid, their home, the shared environment
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(ENV / "bin" / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.ip = "127.0.0.1"
c.Spawner.environment = {
    "PATH": f"{ENV / 'bin'}:/usr/local/bin:/usr/bin:/bin",
    "AELAB_OFFLINE": os.environ.get("AELAB_OFFLINE", "1"),
}
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180
# Stop servers nobody uses (the idle culler service is a separate package; this stops on logout).
c.JupyterHub.shutdown_on_logout = True
