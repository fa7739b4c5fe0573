{
    "name": "Carerix Mail",
    "summary": "Personal IMAP/POP3 mailboxes for recruiters, archived on candidates, "
    "contacts and employers, with confidential mail",
    "version": "18.0.1.0.0",
    "category": "Productivity/Discuss",
    "author": "carerix_mail developers",
    "license": "LGPL-3",
    "depends": ["mail", "contacts"],
    "external_dependencies": {"python": ["imapclient"]},
    "data": [
        "security/ir.model.access.csv",
    ],
    "installable": True,
    "application": False,
}
