from odoo.addons.mail.controllers.thread import ThreadController


class CarerixThreadController(ThreadController):
    def _prepare_post_data(self, post_data, thread, **kwargs):
        """The message a user answers from the web client (``parent_id``, the
        Inbox's Reply) is kept only when it is a message of ``thread`` he may
        read: it decides whether his answer is confidential, and nobody
        answers into a conversation hidden from him."""
        post_data = super()._prepare_post_data(post_data, thread, **kwargs)
        if post_data.get("parent_id") and thread._name != "discuss.channel":
            if not thread._carerix_answered_message(post_data["parent_id"]):
                post_data.pop("parent_id")
        return post_data
