from . import cli
from . import controllers
from . import models
from . import wizards
from .push_runner import start_with_server


def _post_load():
    """As a server-wide module, start the push runner with the threaded
    server when ``[carerix_mail] push = True`` (see ``push_runner.py``)."""
    start_with_server()
