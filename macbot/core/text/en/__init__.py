"""English rules of the text front end: the semiotic classes and numbers in words."""
