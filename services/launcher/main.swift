// bulwark: the OCI runtime CLI; the logic lives in Sources/OCIRuntime.
import OCIRuntime

BulwarkMain.main()
