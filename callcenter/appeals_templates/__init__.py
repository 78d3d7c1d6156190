"""The appeal statement (申诉说明): a jinja2 template filled with the ticket's facts, exported as .docx."""
