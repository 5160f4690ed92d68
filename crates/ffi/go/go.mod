module example.invalid/capstan

go 1.19
