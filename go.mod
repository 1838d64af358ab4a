module github.com/slotless/slotless

go 1.25.0
