"""IVR scripts: what a callback call says and asks, written as TOML in ivr_scripts/.

Why a small language: the office changes wording and answer keys more often
than code, and a script must be checked completely before it reaches a
citizen (see :mod:`.loader`, which reports every problem as FILE:LINE).

A script has four tables::

    [script]                      # start = first node; complete_when = questions that make
    start = "greeting"            # a call answered-complete (default: every question node)

    [sounds]                      # sound file (relative, no extension) = what it says
    "callback/thanks" = "感谢您对我们工作的支持，再见。"

    [prompts]                     # prompt key = one sound, or a list of parts
    thanks = "callback/thanks"
    greeting = ["callback/intro", "{tts:ticket_date}", "callback/reported", "{tts:ticket_title}"]

    [nodes.NAME]                  # the call flow; `type` is one of:
      play      prompt | sound, next, keys = {digit = node} (optional: a key that cuts it short and
                goes there, e.g. the greeting's "不需要请按9"; other keys are ignored while it plays)
      question  prompt, dtmf = {digit = intent}, speech = {phrase = intent} (optional),
                next = "node" | {intent = node, ..., no_answer = node},
                timeout (s, 6), silence (s, 2), retries (1: re-ask once), retry_prompt, question (name
                the answer is stored under; default the node name)
      record    prompt, question, next, max_seconds (30), silence (s of silence that end it, 3),
                escape (keys that end it, "#"), beep (true)   — free speech, e.g. the 不满意 reason
      branch    question, cases = {intent = node}, default  — on an earlier answer
      goto      next
      hangup    outcome = "refused" (optional; otherwise the answers decide)

Spoken variables (call-specific values inside a prompt) are ``{kind:variable}`` or
``{kind:variable:arg}``: ``say_date`` (SAY DATETIME, arg = Asterisk format,
default ``Bd``), ``say_digits``, ``say_number``, and ``tts`` (a WAV synthesised
from the text by :mod:`.tts`, cached; skipped when no synthesiser is
configured).  Variables: see :data:`.context.TEMPLATE_VARIABLES`
(``ticket_no``, ``ticket_title``, ``ticket_category``, ``ticket_called_at``,
``ticket_date`` = "5月3日").

Every question must have a dtmf map (keys are always accepted and are the only
way to answer when speech is unavailable); every spoken intent must also have
a key.
"""
