# formfeed_match.py: form feeds and tabs in the indentation of a match (round-trip data).
def f(x):
  match x:
    case 1:
      s = 1
    case _:
      pass
    case 2:  \
  
      pass
