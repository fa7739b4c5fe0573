"""The demo records' xml ids end in ``_demo`` (OCA convention).

A database installed with demo data keeps its demo records: their xml ids are
renamed before the demo data is loaded again, so the update finds them
instead of creating a second user with the same login.
"""

DEMO_XML_IDS = (
    "user_recruiter_anna",
    "user_recruiter_bram",
    "partner_employer_techno",
    "partner_contact_lisa",
    "partner_candidate_sem",
    "partner_candidate_noor",
    "partner_candidate_daan",
)


def migrate(cr, version):
    cr.execute(
        """
        UPDATE ir_model_data AS old
           SET name = old.name || '_demo'
         WHERE old.module = 'carerix_mail'
           AND old.name = ANY(%s)
           AND NOT EXISTS (
               SELECT 1 FROM ir_model_data AS new
                WHERE new.module = old.module AND new.name = old.name || '_demo'
           )
        """,
        [list(DEMO_XML_IDS)],
    )
