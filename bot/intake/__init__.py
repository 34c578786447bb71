"""Intake: what a person asked for, made into a request the engine can queue.

`admission.Admission` is the one way in (`admit` before Discord's answer, `stage` after it), for
/video, its buttons and the shell's `generate`. Its parts: `ask` (what was asked, each input as
given), `draft` (the server's rules, the catalogue, a file's metadata), `read` (read or fetch and
check the bytes), `stage` (upload with the job's key), `follow_up` (a retry, a continuation, a
last frame). Nothing here knows Discord.
"""
