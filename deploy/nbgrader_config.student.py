# nbgrader configuration of a student (written by `aelab class add-students` to
# ~/.jupyter/nbgrader_config.py; on a dedicated machine it can go to /etc/jupyter/ for everyone).
#
# Template values: ${course_id}, ${exchange_root}. A student only fetches, submits and fetches
# feedback: no course directory, no gradebook.

c = get_config()  # noqa: F821 - provided by traitlets when nbgrader loads this file

c.CourseDirectory.course_id = "${course_id}"
c.Exchange.root = "${exchange_root}"
c.Exchange.path_includes_course = False
# The exchange's inbound folder is write-only for students (0733), and each submission's folder
# name ends in 72 random bits, so no student can list or guess another's submission.
c.ExchangeSubmit.add_random_string = True
