package fetch

// Windows has no O_NOFOLLOW. None is needed: os.OpenFile turns
// O_CREATE|O_EXCL into CreateFile's CREATE_NEW, which fails on any
// existing name, a symbolic link or other reparse point included, and
// never follows it; the --force path Lstats the name first and refuses
// anything but a regular file, as on Unix.
const oNoFollow = 0
