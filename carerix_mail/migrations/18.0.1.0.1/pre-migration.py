"""The folder cursors become bigint, keeping their values.

IMAP's UIDVALIDITY and UIDs are unsigned 32-bit numbers (up to 4,294,967,295);
the int4 columns of earlier versions stop at 2,147,483,647.
"""


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        """
        ALTER TABLE carerix_mailbox_folder
            ALTER COLUMN uidvalidity TYPE bigint,
            ALTER COLUMN last_uid TYPE bigint
        """
    )
