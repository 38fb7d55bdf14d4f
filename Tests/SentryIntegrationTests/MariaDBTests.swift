// MariaDB in the sandbox: mariadb-install-db, then mariadbd (InnoDB redo log, Aria system tables,
// a Unix socket the script waits for with `test -S`) serving the mariadb client; restarted once to
// read back what it stored. Compared with the same script run natively. InnoDB used to take its
// redo log for a RAM disk (same st_dev as /dev/shm) and write it through MAP_SHARED.
import Foundation
import Testing
import TestSupport

@Suite("Sentry runs MariaDB")
struct MariaDBTests {
    static let installed = FileManager.default.isExecutableFile(atPath: "/usr/sbin/mariadbd")
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/mariadb-install-db")

    @Test(.enabled(if: installed, "mariadbd is not installed (tools/install-deps installs mariadb-server mariadb-client)"))
    func mariadbStoresAndReadsBackAcrossARestart() throws {
        // No fsync and a small buffer pool: the test measures the sandbox, not the disk.
        let script = """
        set -e
        d=$(mktemp -d /tmp/bulwark-mariadb-XXXXXX)
        opts="--user=root --datadir=$d/db --innodb-flush-method=nosync --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 --innodb-buffer-pool-size=16M"
        mariadb-install-db $opts --skip-test-db > $d/install.log 2>&1 || { cat $d/install.log; exit 1; }
        for round in 1 2; do
          mariadbd $opts --socket=$d/s --skip-networking >> $d/server.log 2>&1 &
          for i in $(seq 300); do [ -S $d/s ] && break; sleep 0.1; done
          if [ $round = 1 ]; then
            mariadb --socket=$d/s -e "create database t; create table t.x(a int); insert into t.x values (1),(2)" || { cat $d/server.log; exit 1; }
          fi
          mariadb --socket=$d/s -e "select sum(a) from t.x" || { cat $d/server.log; exit 1; }
          mariadb-admin --socket=$d/s shutdown
          wait
          echo "mariadbd exited $?"
        done
        rm -rf $d
        """
        let env = ["PATH=/usr/sbin:/usr/bin:/bin"]
        let native = try Sentry.native(["/bin/sh", "-c", script], env: env, timeout: 90)
        #expect(native.exitCode == 0, "\(native)")
        let start = Date()
        let sandboxed = try Sentry.run(["/bin/sh", "-c", script], env: env, timeout: 90)
        #expect(!sandboxed.timedOut)
        #expect(sandboxed.exitCode == 0, "\(sandboxed)")
        #expect(sandboxed.stdout == native.stdout, "sandbox\n\(sandboxed)\nnative\n\(native)")
        #expect(sandboxed.stdout == "sum(a)\n3\nmariadbd exited 0\nsum(a)\n3\nmariadbd exited 0\n")
        print("MariaDB in the sandbox: \(Int(Date().timeIntervalSince(start))) s")
    }
}
