// A Java program for the sandbox tests: threads, a socket over loopback, a child process, a file.
import java.io.*;
import java.net.*;
import java.nio.file.*;
import java.util.concurrent.*;

@SuppressWarnings("unchecked")
public class RuntimeJava {
    public static void main(String[] args) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(4);
        Future<Integer>[] parts = new Future[4];
        for (int i = 0; i < 4; i++) { final int k = i; parts[i] = pool.submit(() -> { int s = 0; for (int j = 0; j <= 1000; j++) s += j * (k + 1); return s; }); }
        int total = 0;
        for (Future<Integer> f : parts) total += f.get();
        pool.shutdown();
        System.out.println("threads summed " + total);
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Thread t = new Thread(() -> {
                try (Socket c = server.accept(); PrintWriter w = new PrintWriter(c.getOutputStream(), true)) {
                    w.println("hello over loopback");
                } catch (IOException e) { throw new UncheckedIOException(e); }
            });
            t.start();
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), server.getLocalPort());
                 BufferedReader r = new BufferedReader(new InputStreamReader(s.getInputStream()))) {
                System.out.println("socket read: " + r.readLine());
            }
            t.join();
        }
        Process p = new ProcessBuilder("/bin/sh", "-c", "echo child $((6*7))").start();
        System.out.println("child said: " + new String(p.getInputStream().readAllBytes()).trim() + ", exit " + p.waitFor());
        Path f = Files.createTempFile("bulwark-java", ".txt");
        Files.writeString(f, "file contents");
        System.out.println("file: " + Files.readString(f));
        Files.delete(f);
    }
}
