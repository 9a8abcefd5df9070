"""Getting items in: feeds and pages become item files in the content folder's inbox.

Sits on top of build (like check and deploy): it reads what the content stage reads (item
files, URL normalisation, the sanitizer) and fetches with the image stage's guarded requests.
"""
