from . import thread
from . import oauth
from . import export
