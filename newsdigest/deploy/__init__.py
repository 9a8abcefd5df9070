"""Deploy the built site to a target from site.toml [deploy.NAME], through tools made for it.

Targets: "directory" (a local or mounted folder: staged beside it and swapped in, unchanged
files hard-linked), "rsync" (any rsync destination, --delay-updates so files appear together),
"s3" (a bucket, or a prefix of one: changed files by ETag, deletions last),
"git" (a branch such as gh-pages of a remote: plain git, history kept, pushed in one step).
Secrets never live in site.toml: a git remote or rsync destination with a password in it is
refused; credentials come from the environment (SSH agent, git credential helpers).

Nothing of anyone else's is deleted: a folder (directory, rsync) is replaced only when it is
missing, empty, or holds the marker an earlier deploy left (DEPLOY_MARKER), and never when it
overlaps the project; an S3 deploy deletes only keys its own record in the bucket lists. What is
sent is only the regular files the build wrote: a symbolic link planted in the output could
point anywhere (~/.ssh, /etc), so none is followed or copied.
"""
