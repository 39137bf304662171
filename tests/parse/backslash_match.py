# backslash_match.py: lines holding only a backslash inside match statements (round-trip data).
def f(x):
  match x:
    case 1:
\
      pass
    case 2:
      \
        y = 1
    case 3:  \
   
        pass
