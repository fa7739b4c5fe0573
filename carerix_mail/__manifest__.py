{
    "name": "Carerix Mail",
    "summary": "Personal IMAP/POP3 mailboxes for recruiters, archived on candidates, "
    "contacts and employers, with confidential mail",
    "version": "18.0.1.0.1",
    "category": "Productivity/Discuss",
    "author": "carerix_mail developers",
    "license": "LGPL-3",
    "website": "https://carerix-mail.example/carerix_mail",
    "maintainers": ["carerix-mail"],
    "development_status": "Beta",
    "depends": [
        "mail",
        "contacts",
        # OCA: the Data Protection category and groups, forget a partner, and
        # the search of records by the words of their mail.
        "privacy",
        "privacy_partner_to_be_forgotten",
        "base_search_mail_content",
    ],
    "external_dependencies": {"python": ["imapclient"]},
    "data": [
        "security/carerix_mail_security.xml",
        "security/ir.model.access.csv",
        "security/carerix_mail_privacy.xml",
        "views/res_users_views.xml",
        "views/res_partner_views.xml",
        "views/carerix_mailbox_message_views.xml",
        "views/res_config_settings_views.xml",
        "views/carerix_mail_excluded_views.xml",
        "views/oauth_templates.xml",
        "wizards/carerix_mailbox_folder_wizard_views.xml",
        "wizards/carerix_mail_export_wizard_views.xml",
        "data/ir_cron_data.xml",
        "data/mail_template_data.xml",
        "data/res_users_data.xml",
        "wizards/mail_compose_message_views.xml",
        "wizards/carerix_mail_erase_wizard_views.xml",
    ],
    "demo": [
        "demo/carerix_mail_demo.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "carerix_mail/static/src/message_confidential/*",
        ],
        "web.assets_tests": [
            "carerix_mail/static/tests/tours/*.js",
        ],
    },
    "post_load": "_post_load",
    "installable": True,
    "application": False,
}
