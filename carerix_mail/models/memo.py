from contextlib import contextmanager


@contextmanager
def memo_scope(var):
    """Give the context variable ``var`` a fresh dict for the block (its
    memo), and its previous value back afterwards; ``None`` outside means
    no memo."""
    token = var.set({})
    try:
        yield
    finally:
        var.reset(token)
