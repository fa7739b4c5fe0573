"""Tombstones of erased mail: what keeps a person's erased mail from coming
back with a later sync (after a UIDVALIDITY reset, a reconnect, on another
owner's mailbox), holding nothing readable: keyed hashes only
(:func:`~.carerix_mail_privacy_log.privacy_hash`)."""

from odoo import api, fields, models
from odoo.tools import SQL

from .carerix_mail_privacy_log import privacy_hash
from .carerix_mailbox_message_archive import _utc_naive


class CarerixMailTombstone(models.Model):
    """One erased mail (the hash of its identity, the dedup key: Message-ID
    and content hash) or one erased person (the hash of an address, with the
    time of the erasure). Global: a mail
    erased is erased for every owner."""

    _name = "carerix.mail.tombstone"
    _description = "Erased mail (keyed hashes)"
    _log_access = False
    _rec_name = "kind"

    kind = fields.Selection(
        [("message", "Mail"), ("address", "Address")], required=True, readonly=True
    )
    hash = fields.Char(required=True, readonly=True)
    erased_at = fields.Datetime("Erased on", required=True, readonly=True)

    _sql_constraints = [
        ("kind_hash_uniq", "unique(kind, hash)", "A tombstone is kept once.")
    ]

    @api.model
    def _add(self, kind, values):
        """Keep a tombstone of each of ``values`` (dedup keys or addresses,
        by ``kind``), erased now."""
        hashes = sorted({privacy_hash(self.env, kind, v) for v in values} - {""})
        if not hashes:
            return
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO carerix_mail_tombstone (kind, hash, erased_at)
                SELECT %(kind)s, h, %(now)s FROM unnest(%(hashes)s::varchar[]) h
                    ON CONFLICT (kind, hash)
                    DO UPDATE SET erased_at = EXCLUDED.erased_at
                """,
                kind=kind,
                now=fields.Datetime.now(),
                hashes=hashes,
            )
        )
        self.invalidate_model()

    @api.model
    def _add_messages(self, dedup_keys):
        self._add("message", dedup_keys)

    @api.model
    def _add_addresses(self, emails):
        self._add("address", emails)

    @api.model
    def _erased(self, infos):
        """Per ``MessageInfo`` of ``infos`` (in order) whether it is a mail
        that was erased: its identity (dedup key) has a tombstone, or it is dated
        before (or not dated) the erasure of an address of its From, To or
        Cc. Mail a person sends after his erasure is not erased."""
        if not infos:
            return []
        self.env.cr.execute("SELECT 1 FROM carerix_mail_tombstone LIMIT 1")
        if not self.env.cr.rowcount:
            return [False] * len(infos)
        keys = [self._hashes(info) for info in infos]
        wanted = sorted({h for mh, ahs in keys for h in (mh, *ahs)} - {""})
        self.env.cr.execute(
            SQL(
                "SELECT kind, hash, erased_at FROM carerix_mail_tombstone"
                " WHERE hash = ANY(%s::varchar[])",
                wanted,
            )
        )
        found = {(kind, h): erased_at for kind, h, erased_at in self.env.cr.fetchall()}
        result = []
        for info, (message_hash, address_hashes) in zip(infos, keys, strict=True):
            date = _utc_naive(info.date)
            result.append(
                ("message", message_hash) in found
                or any(
                    ("address", h) in found
                    and (not date or date <= found["address", h])
                    for h in address_hashes
                )
            )
        return result

    @api.model
    def _hashes(self, info):
        """The hash of the identity (dedup key) of ``info`` and those of its
        From, To and Cc addresses."""
        addresses = {a.email for a in (*info.from_, *info.to, *info.cc) if a.email}
        return (
            privacy_hash(self.env, "message", info.dedup_key or ""),
            {privacy_hash(self.env, "address", a) for a in addresses},
        )
