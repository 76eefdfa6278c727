# nbgrader configuration of a student (written by `aelab class add-students` to
# ~/.jupyter/nbgrader_config.py; on a dedicated machine it can go to /etc/jupyter/ for everyone).
#
# Template values: ${course_id}, ${exchange_root}. A student only fetches, submits and fetches
# feedback: no course directory, no gradebook (aelab.course.config.student_config).

from aelab.course.config import student_config

c = get_config()  # noqa: F821 - provided by traitlets when nbgrader loads this file
c.merge(student_config("${course_id}", "${exchange_root}"))
