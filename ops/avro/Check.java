// Check is Apache Avro for Java's verdict on Assay's schemas and records, for the Go tests of
// ops/avro (avro.go builds the input and reads the verdict). It runs in source-file mode, so it is
// never stale:
//
//   java -cp "$ASSAY_AVRO_CLASSPATH" ops/avro/Check.java input.json > verdict.json
//
// The input is {"schemas": [{"id", "text"}], "records": [{"id", "reader", "hex"}]}. Every schema
// is parsed on its own (each .avsc defines its shared types again), and the verdict gives its
// Parsing Canonical Form and CRC-64-AVRO fingerprint as SchemaNormalization computes them, or the
// parser's refusal. Every parsed schema then goes into one SchemaStore.Cache, and each record (a
// single-object encoded message, hex) is decoded by a BinaryMessageDecoder whose reader schema is
// the schema named by "reader" and whose resolver is that cache: the writer schema is found by
// the fingerprint in the header or the record is refused (MissingSchemaException). A decoded
// record is written back as JSON with Avro's JSON encoder (reader schema), and re-encoded with
// its writer schema by a BinaryMessageEncoder, whose bytes must be the record's own.
//
// The verdict is {"avro": version, "schemas": [...], "records": [...]} on stdout; the exit code
// is 0 whenever the checker itself ran, the Go side judges. Jackson comes with Avro.
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.io.JsonEncoder;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.message.SchemaStore;

public class Check {
  public static void main(String[] args) throws Exception {
    if (args.length != 1) {
      System.err.println("usage: java -cp <avro classpath> Check.java input.json");
      System.exit(2);
    }
    ObjectMapper json = new ObjectMapper();
    JsonNode input = json.readTree(new File(args[0]));
    ObjectNode verdict = json.createObjectNode();
    verdict.put("avro", Schema.class.getPackage().getImplementationVersion());

    Map<String, Schema> byId = new HashMap<>();
    Map<Long, String> idByFingerprint = new HashMap<>();
    SchemaStore.Cache store = new SchemaStore.Cache();
    ArrayNode schemas = verdict.putArray("schemas");
    for (JsonNode in : input.path("schemas")) {
      String id = in.path("id").asText();
      ObjectNode out = schemas.addObject().put("id", id);
      Schema schema;
      try {
        schema = new Schema.Parser().parse(in.path("text").asText());
      } catch (RuntimeException e) {
        out.put("error", e.toString());
        continue;
      }
      long fp = SchemaNormalization.parsingFingerprint64(schema);
      out.put("canonical", SchemaNormalization.toParsingForm(schema));
      out.put("fingerprint", String.format("%016x", fp));
      byId.put(id, schema);
      // The store keys every schema by parsingFingerprint64 (the canonical-form cases go in too,
      // harmlessly); of schemas with equal fingerprints the first names the writer.
      if (idByFingerprint.putIfAbsent(fp, id) == null) {
        store.addSchema(schema);
      }
    }

    ArrayNode records = verdict.putArray("records");
    Map<String, BinaryMessageDecoder<GenericRecord>> decoders = new HashMap<>();
    for (JsonNode in : input.path("records")) {
      String id = in.path("id").asText();
      ObjectNode out = records.addObject().put("id", id);
      try {
        byte[] msg = HexFormat.of().parseHex(in.path("hex").asText());
        String readerId = in.path("reader").asText();
        Schema reader = byId.get(readerId);
        if (reader == null) {
          throw new IllegalArgumentException("reader schema " + readerId + " did not parse");
        }
        // What the store holds for the header's fingerprint (null when nothing): the decoder
        // below finds the same, this only names it in the verdict.
        if (msg.length >= 10) {
          long fp = ByteBuffer.wrap(msg, 2, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
          out.put("headerFingerprint", String.format("%016x", fp));
          if (store.findByFingerprint(fp) != null) {
            out.put("writer", idByFingerprint.get(fp));
          }
        }
        BinaryMessageDecoder<GenericRecord> decoder = decoders.computeIfAbsent(readerId,
            r -> new BinaryMessageDecoder<>(GenericData.get(), reader, store));
        GenericRecord datum = decoder.decode(msg);
        out.put("json", toJson(reader, datum));

        Schema writer = byId.get(out.path("writer").asText());
        GenericRecord asWritten = decoders.computeIfAbsent(out.path("writer").asText(),
            w -> new BinaryMessageDecoder<>(GenericData.get(), writer, store)).decode(msg);
        ByteBuffer again = new BinaryMessageEncoder<GenericRecord>(GenericData.get(), writer).encode(asWritten);
        byte[] bytes = Arrays.copyOfRange(again.array(), again.arrayOffset() + again.position(),
            again.arrayOffset() + again.limit());
        out.put("reencodedSame", Arrays.equals(bytes, msg));
        if (!Arrays.equals(bytes, msg)) {
          out.put("reencodedHex", HexFormat.of().formatHex(bytes));
        }
      } catch (Exception e) {
        out.put("error", e.toString());
      }
    }
    json.writeValue(System.out, verdict);
  }

  // toJson is the datum in Avro's JSON encoding of schema s (unions as {"branch": value},
  // bytes as ISO-8859-1 strings, enums as their symbols).
  static String toJson(Schema s, GenericRecord datum) throws Exception {
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    JsonEncoder enc = EncoderFactory.get().jsonEncoder(s, buf);
    new GenericDatumWriter<GenericRecord>(s).write(datum, enc);
    enc.flush();
    return buf.toString(StandardCharsets.UTF_8);
  }
}
