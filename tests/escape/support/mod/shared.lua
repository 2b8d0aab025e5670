-- A module every instance requires: each must get its own copy.
return {count = 0}
