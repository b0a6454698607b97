import NetStackCLI

NetStackCommand.main()
