import contextvars
from contextlib import contextmanager

from odoo import api, models

from .memo import memo_scope

# A dict while :func:`defaults_once` is active in this thread, else None.
_DEFAULTS_MEMO = contextvars.ContextVar("carerix_defaults_memo", default=None)


@contextmanager
def defaults_once():
    """Within the block, the user defaults of a model are read once.

    Every record created goes through ``default_get``, which asks
    ``ir.default`` for the model's user defaults; that answer is ormcached,
    but the cache lookup itself (the ``decorator`` package binds the call's
    signature) cost ~6% of archiving a batch of mails. The block memoizes it
    under the ormcache's own key, for bulk creates that do not change
    ``ir.default`` meanwhile.
    """
    with memo_scope(_DEFAULTS_MEMO):
        yield


class IrDefault(models.Model):
    _inherit = "ir.default"

    @api.model
    def _get_model_defaults(self, model_name, condition=False):
        memo = _DEFAULTS_MEMO.get()
        if memo is None:
            return super()._get_model_defaults(model_name, condition)
        key = (self.env.uid, self.env.company.id, model_name, condition)
        if key not in memo:
            memo[key] = super()._get_model_defaults(model_name, condition)
        return memo[key]
