"""Request size limits, in one place: the app enforces the body limit, upload forms derive theirs from it."""

#: Largest request body. Uploads (appeal evidence, photos, meeting attachments) are the biggest:
#: a phone photo is a few MB.
MAX_BODY = 16 * 1024 * 1024
#: Largest single uploaded file: the body limit less room for the rest of the form.
MAX_UPLOAD = MAX_BODY - 64 * 1024
