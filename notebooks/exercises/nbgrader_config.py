"""nbgrader's settings for the mailmagic exercises (this folder is the course directory).

Run from this folder: `nbgrader generate_assignment smtp-and-pop3`, then, once submissions are in
submitted/<student>/smtp-and-pop3/, `nbgrader autograde smtp-and-pop3` and
`nbgrader generate_feedback smtp-and-pop3`. docs/teaching.md explains each step.
"""

c = get_config()  # noqa: F821 (nbgrader provides get_config)

c.CourseDirectory.course_id = "mailmagic"

# Without this, nbgrader stores the widgets' state in the executed notebook, and the feedback
# HTML then shows each result as an empty widget placeholder: the server's replies are missing.
# Without widget state, every result falls back to its HTML form, replies included.
c.Execute.store_widget_state = False

# Each notebook starts its own lab server; a loaded machine may need more than the 30 s default.
c.Execute.timeout = 120

# nbgrader's own stub, said out loud: in a %%smtp or %%pop3 cell, mailmagic recognises its
# `raise NotImplementedError()` line (ProtocolMagics.stub_lines) and fails the cell with
# "this exercise is not answered yet" instead of sending it to the server.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
