from . import thread
from . import oauth
