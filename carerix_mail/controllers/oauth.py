"""Connect with Microsoft / Google: the start of the sign-in and its callback.

The ``state`` sent to the provider is ``<mailbox>.<user>.<expiry>.<nonce>.<signature>``:
the signature is an HMAC with the database secret over those values and the
user's session id, so it holds only in the session that started the sign-in.
The PKCE verifier stays in that session under the nonce, and is taken out at
the first callback that carries it: a state serves once, for 10 minutes, for
one user and one mailbox. Anything else gets 403.
"""

import logging
import secrets
import time

from werkzeug.exceptions import Forbidden

from odoo import http
from odoo.exceptions import UserError
from odoo.http import request
from odoo.tools import consteq
from odoo.tools.misc import hmac as odoo_hmac

from ..engine import MailError, oauth
from ..models.carerix_mailbox_oauth import CALLBACK_PATH

_logger = logging.getLogger(__name__)

STATE_TTL = 600
SESSION_KEY = "carerix_mail_oauth"
HMAC_SCOPE = "carerix_mail.oauth_state"
# Sign-ins under way kept in one session (the oldest are dropped).
MAX_PENDING = 5


def _sign(payload):
    return odoo_hmac(request.env(su=True), HMAC_SCOPE, (payload, request.session.sid))


def make_state(mailbox_id, verifier):
    """A new signed state for ``mailbox_id``; keeps ``verifier`` in the session."""
    nonce = secrets.token_urlsafe(16)
    expires = int(time.time()) + STATE_TTL
    payload = f"{mailbox_id}.{request.env.uid}.{expires}.{nonce}"
    pending = dict(request.session.get(SESSION_KEY) or {})
    pending[nonce] = verifier
    request.session[SESSION_KEY] = dict(list(pending.items())[-MAX_PENDING:])
    return f"{payload}.{_sign(payload)}"


def take_state(state):
    """The ``(mailbox_id, verifier)`` of a callback's ``state``, spent at once;
    Forbidden when it is not this session's, this user's, unused and fresh."""
    parts = (state or "").split(".")
    if len(parts) != 5 or not all(part.isdigit() for part in parts[:3]):
        _logger.warning("OAuth callback: malformed state")
        raise Forbidden()
    payload, signature = ".".join(parts[:4]), parts[4]
    if not consteq(signature, _sign(payload)):
        _logger.warning("OAuth callback: state not signed for this session")
        raise Forbidden()
    mailbox_id, uid, expires, nonce = (
        int(parts[0]),
        int(parts[1]),
        int(parts[2]),
        parts[3],
    )
    if uid != request.env.uid:
        _logger.warning("OAuth callback: state of another user")
        raise Forbidden()
    pending = dict(request.session.get(SESSION_KEY) or {})
    verifier = pending.pop(nonce, None)
    request.session[SESSION_KEY] = pending
    if verifier is None:
        _logger.warning("OAuth callback: state used already")
        raise Forbidden()
    if expires < time.time():
        _logger.warning("OAuth callback: state expired")
        raise Forbidden()
    return mailbox_id, verifier


class CarerixOAuthController(http.Controller):
    @http.route("/carerix_mail/oauth/start", type="http", auth="user", methods=["GET"])
    def oauth_start(self, **kwargs):
        """Send the user to his provider's sign-in page for his own mailbox."""
        if request.env.user.share:  # portal users have no mailbox
            raise Forbidden()
        box = request.env.user._carerix_mailbox(create=True)
        try:
            box.with_user(request.env.user)._oauth_check_connect()
            verifier, challenge = oauth.pkce_pair()
            url = box._oauth_authorize_url(make_state(box.id, verifier), challenge)
        except UserError as error:
            return self._render(error=error.args[0])
        return request.redirect(url, local=False)

    @http.route(CALLBACK_PATH, type="http", auth="user", methods=["GET"])
    def oauth_callback(self, state=None, code=None, error=None, **kwargs):
        mailbox_id, verifier = take_state(state)
        box = request.env["carerix.mailbox"].sudo().browse(mailbox_id).exists()
        if not box or box.user_id != request.env.user:
            raise Forbidden()
        if error or not code:
            return self._render(
                error=box._oauth_authorize_error(error, kwargs.get("error_description"))
            )
        try:
            account, warning, test_error = box._oauth_connect(code, verifier)
        except (MailError, UserError) as failure:
            message = (
                box._user_message(failure)
                if isinstance(failure, MailError)
                else failure.args[0]
            )
            return self._render(error=message)
        return self._render(account=account, warning=warning, test_error=test_error)

    def _render(self, **values):
        return request.render(
            "carerix_mail.oauth_result",
            dict(
                {"account": None, "warning": None, "test_error": None, "error": None},
                **values,
            ),
        )
