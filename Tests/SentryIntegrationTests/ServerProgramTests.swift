// Real servers from Debian packages inside the sandbox, reached over the sandbox's own loopback
// (the netstack) by a client that also runs inside; the same script runs natively and the outputs
// are compared.
import Foundation
import Testing
import TestSupport

@Suite("Sentry runs real servers")
struct ServerProgramTests {
    /// Runs `script` natively, then in the sandbox: same output, which contains `expected`.
    func compareNativeAndSandboxed(_ script: String, expecting expected: String) throws {
        let env = ["PATH=/usr/sbin:/usr/bin:/bin"]
        let native = try Sentry.native(["/bin/sh", "-c", script], env: env, timeout: 60)
        #expect(native.exitCode == 0, "\(native)")
        let sandboxed = try Sentry.run(["/bin/sh", "-c", script], env: env, timeout: 60)
        #expect(!sandboxed.timedOut)
        #expect(sandboxed.stdout == native.stdout, "sandbox\n\(sandboxed)\nnative\n\(native)")
        #expect(sandboxed.stdout.contains(expected))
    }

    /// nginx with a master and one worker (master/worker channels use FIOASYNC and F_SETOWN), serving a
    /// fixed reply and a static file, then stopped with `nginx -s quit`.
    @Test func nginxServesOverLoopback() throws {
        let port = 20_000 + Int.random(in: 0..<20_000)
        let script = """
        set -e
        d=$(mktemp -d /tmp/bulwark-nginx-XXXXXX)
        echo "static file body" > $d/index.html
        cat > $d/nginx.conf <<EOF
        daemon off; master_process on; worker_processes 1; error_log $d/error.log; pid $d/nginx.pid;
        events { worker_connections 64; }
        http { access_log off; client_body_temp_path $d; proxy_temp_path $d; fastcgi_temp_path $d;
               uwsgi_temp_path $d; scgi_temp_path $d;
               server { listen 127.0.0.1:\(port); root $d;
                        location = /hello { return 200 "hello from nginx\\n"; } } }
        EOF
        nginx -c $d/nginx.conf &
        for i in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:\(port)/hello && break; sleep 0.1; done
        curl -sS --max-time 10 http://127.0.0.1:\(port)/hello
        curl -sS --max-time 10 http://127.0.0.1:\(port)/index.html
        curl -sS --max-time 10 -o /dev/null -w "%{http_code}\\n" http://127.0.0.1:\(port)/missing
        nginx -c $d/nginx.conf -s quit
        wait
        echo "nginx exited $?"
        rm -rf $d
        """
        try compareNativeAndSandboxed(script, expecting: "hello from nginx\nstatic file body\n404\nnginx exited 0")
    }

    /// Apache httpd with the event MPM (a parent that forks a child with threads), serving a static
    /// file, then stopped with `apache2 -k graceful-stop`.
    @Test func apacheServesOverLoopback() throws {
        let port = 20_000 + Int.random(in: 0..<20_000)
        let script = """
        set -e
        d=$(mktemp -d /tmp/bulwark-apache-XXXXXX); chmod 755 $d
        mkdir -p $d/htdocs $d/logs; echo "apache static body" > $d/htdocs/index.html
        cat > $d/httpd.conf <<EOF
        ServerRoot "$d"
        Listen 127.0.0.1:\(port)
        LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
        LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
        LoadModule dir_module /usr/lib/apache2/modules/mod_dir.so
        LoadModule mime_module /usr/lib/apache2/modules/mod_mime.so
        ServerName localhost
        User www-data
        Group www-data
        PidFile $d/httpd.pid
        ErrorLog $d/logs/error.log
        DocumentRoot "$d/htdocs"
        TypesConfig /etc/mime.types
        EOF
        apache2 -f $d/httpd.conf -k start -DFOREGROUND &
        for i in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:\(port)/ && break; sleep 0.1; done
        curl -sS --max-time 10 http://127.0.0.1:\(port)/index.html
        curl -sS --max-time 10 -o /dev/null -w "%{http_code}\\n" http://127.0.0.1:\(port)/missing
        apache2 -f $d/httpd.conf -k graceful-stop
        wait
        echo "apache exited $?"
        rm -rf $d
        """
        try compareNativeAndSandboxed(script, expecting: "apache static body\n404\napache exited 0")
    }
}
