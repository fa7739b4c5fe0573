"""Fixtures of the recruitment bridge tests."""

from odoo.tests import new_test_user

RECRUITER_GROUPS = (
    "base.group_user,base.group_partner_manager,"
    "hr_recruitment.group_hr_recruitment_user"
)


def make_recruiter(env, login, **vals):
    return new_test_user(
        env,
        login=login,
        name=vals.pop("name", f"Recruiter {login}"),
        email=vals.pop("email", f"{login}@agency.example"),
        groups=RECRUITER_GROUPS,
        **vals,
    )


def make_applicant(env, name=None, email=None, job=None, **candidate_vals):
    """An application of a new candidate; with an email, hr_recruitment gives
    the candidate a contact (res.partner) of that email."""
    vals = dict(candidate_vals)
    if name:
        vals["partner_name"] = name
    if email:
        vals["email_from"] = email
    candidate = env["hr.candidate"].create(vals)
    return env["hr.applicant"].create(
        {"candidate_id": candidate.id, "job_id": job.id if job else False}
    )
