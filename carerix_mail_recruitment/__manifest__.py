{
    "name": "Carerix Mail - Recruitment",
    "summary": "Archive recruiters' mail on applications and candidates, and offer "
    "the standard messages on applicants",
    "version": "18.0.1.0.0",
    "category": "Human Resources/Recruitment",
    "author": "carerix_mail developers",
    "license": "LGPL-3",
    "website": "https://carerix-mail.example/carerix_mail",
    "maintainers": ["carerix-mail"],
    "development_status": "Beta",
    "depends": ["carerix_mail", "hr_recruitment"],
    # Odoo's attachment_indexation reads PDF CVs with it.
    "external_dependencies": {"python": ["pdfminer.six"]},
    "data": [
        "security/ir.model.access.csv",
        "data/mail_template_data.xml",
        "views/hr_applicant_views.xml",
        "wizards/carerix_mail_export_wizard_views.xml",
        "views/res_config_settings_views.xml",
        "data/ir_cron_data.xml",
        "views/carerix_mail_erase_wizard_views.xml",
        "views/carerix_cv_views.xml",
    ],
    "demo": [
        "demo/carerix_mail_recruitment_demo.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "carerix_mail_recruitment/static/tests/tours/*.js",
        ],
    },
    "installable": True,
    "auto_install": True,
    "application": False,
}
