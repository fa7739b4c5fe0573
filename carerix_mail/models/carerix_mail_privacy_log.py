"""What the data protection actions did, without the data: the audit trail of
*Erase this person*, *Export this person's mail*, retention and *forget
partner*, and the keyed hashes that let the audit trail and the tombstones
recognise a person or a mail without holding anything readable."""

import hashlib
import hmac

from odoo import api, fields, models
from odoo.tools import email_normalize


def _secret(env):
    """The database's own secret (``database.secret``): the key of every hash
    here, so a hash cannot be reversed with a dictionary of addresses without
    access to the database."""
    return (
        env["ir.config_parameter"].sudo().get_param("database.secret") or ""
    ).encode()


def privacy_hash(env, kind, value):
    """Keyed hash (HMAC-SHA256, hex) of ``value`` of ``kind`` (``"address"``:
    an email address, normalized; ``"message"``: a mail's identity, its dedup
    key of Message-ID and content hash, or a Message-ID, without angle
    brackets). Empty when there is nothing to hash."""
    if kind == "address":
        value = email_normalize(value or "", strict=False) or ""
    elif kind == "message":
        value = (value or "").strip().strip("<>").strip()
    else:
        raise ValueError(kind)
    if not value:
        return ""
    data = f"{kind}:{value}".encode()
    return hmac.new(_secret(env), data, hashlib.sha256).hexdigest()


class CarerixMailPrivacyLog(models.Model):
    _name = "carerix.mail.privacy.log"
    _description = "Data protection log of archived mail"
    _order = "create_date desc, id desc"
    _rec_name = "action"

    action = fields.Selection(
        [
            ("erase", "Erase"),
            ("export", "Export"),
            ("retention", "Retention"),
            ("forget", "Forget partner"),
        ],
        required=True,
        readonly=True,
    )
    user_id = fields.Many2one(
        "res.users",
        "Done by",
        required=True,
        readonly=True,
        ondelete="restrict",
        default=lambda self: self.env.user,
    )
    person_ref = fields.Char(
        "Person",
        readonly=True,
        help="A reference to the person, not his address: the same person "
        "gets the same reference in every entry.",
    )
    entry_count = fields.Integer("Mails", readonly=True)
    message_count = fields.Integer("Archived copies", readonly=True)
    attachment_count = fields.Integer("Attachments", readonly=True)
    owner_count = fields.Integer("Mailbox owners", readonly=True)

    @api.model
    def _log(self, action, emails=(), counts=None):
        """Write one audit entry of ``action`` about the person of ``emails``
        with ``counts`` (``entries``, ``messages``, ``attachments``,
        ``owners``); nothing of the mail itself. Returns it."""
        counts = counts or {}
        hashes = sorted(
            filter(None, (privacy_hash(self.env, "address", e) for e in emails))
        )
        return self.sudo().create(
            {
                "action": action,
                "user_id": self.env.user.id,
                "person_ref": hashes and hashes[0][:16] or False,
                "entry_count": counts.get("entries", 0),
                "message_count": counts.get("messages", 0),
                "attachment_count": counts.get("attachments", 0),
                "owner_count": counts.get("owners", 0),
            }
        )
