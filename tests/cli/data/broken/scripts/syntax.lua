return {
  x = 
