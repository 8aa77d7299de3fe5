// Prints what the real Kafka Java client computes for keys, so that Eric's TypeScript partitioner
// can be checked against it. Reads one hex-encoded key per line on stdin and writes one line per
// key: "<hex key> <murmur2 as signed int> <partition for 1> <for 2> ... <for 12>".
//
//   java -cp "$(scripts/kafka.sh classpath)" scripts/partitioner-vectors/PartitionerVectors.java < keys.txt
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;
import org.apache.kafka.common.utils.Utils;

public class PartitionerVectors {
    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII));
        StringBuilder out = new StringBuilder();
        for (String line = in.readLine(); line != null; line = in.readLine()) {
            byte[] key = HexFormat.of().parseHex(line.trim());
            out.append(line.trim()).append(' ').append(Utils.murmur2(key));
            for (int partitions = 1; partitions <= 12; partitions++) {
                out.append(' ').append(BuiltInPartitioner.partitionForKey(key, partitions));
            }
            out.append('\n');
        }
        System.out.print(out);
    }
}
