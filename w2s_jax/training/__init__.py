"""The layer every engine shares: the `Engine` interface, the weak teacher, the
loss and update rules, the record schedule and the recorded metrics."""
