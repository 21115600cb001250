// Check is DKPro Statistics' answer for unitizing studies, for the Go tests of ops/dkpro
// (dkpro.go writes the input and reads the answer). It runs in source-file mode, so it is never
// stale, and reads every study from stdin so that one JVM answers a whole batch:
//
//   java -cp "$ASSAY_DKPRO_CLASSPATH" ops/dkpro/Check.java < studies.tsv > answers.tsv
//
// Input, tab-separated, one record a line: a study line followed by its units,
//
//   study <id> <raters> <begin> <length>
//   unit <offset> <length> <rater> <category>
//
// each study going into a UnitizingAnnotationStudy(raters, begin, length) and each unit into
// addUnit(offset, length, rater, category). Output, tab-separated:
//
//   version <dkpro-statistics-agreement version>
//   study <id> <alpha> <D_o> <D_e>
//   category <id> <category> <alpha> <D_o> <D_e>
//   error <id> <exception>
//
// alpha is KrippendorffAlphaUnitizingAgreement's calculateAgreement() (calculateCategoryAgreement
// per category, in the study's order of categories); D_o and D_e are the disagreements it
// compares, read through the measure's protected methods (Exposed below). Doubles are printed by
// Double.toString, which Go's strconv.ParseFloat reads back to the same double (NaN and
// Infinity included). A study whose computation throws gets an error line instead; the exit
// code is 0 whenever the checker itself ran, the Go side judges.
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.Properties;
import org.dkpro.statistics.agreement.unitizing.IUnitizingAnnotationStudy;
import org.dkpro.statistics.agreement.unitizing.KrippendorffAlphaUnitizingAgreement;
import org.dkpro.statistics.agreement.unitizing.UnitizingAnnotationStudy;

public class Check {
  // Exposed opens the measure's protected disagreements; the agreement it computes is the
  // library's own.
  static final class Exposed extends KrippendorffAlphaUnitizingAgreement {
    Exposed(IUnitizingAnnotationStudy study) {
      super(study);
    }

    double observed() {
      return calculateObservedDisagreement();
    }

    double expected() {
      return calculateExpectedDisagreement();
    }

    double observed(Object category) {
      return calculateObservedCategoryDisagreement(category);
    }

    double expected(Object category) {
      return calculateExpectedCategoryDisagreement(category);
    }
  }

  public static void main(String[] args) throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    PrintWriter out = new PrintWriter(System.out, false, StandardCharsets.UTF_8);
    out.println("version\t" + version());
    String id = null;
    UnitizingAnnotationStudy study = null;
    String line;
    while ((line = in.readLine()) != null) {
      if (line.isEmpty()) {
        continue;
      }
      String[] f = line.split("\t", -1);
      switch (f[0]) {
        case "study":
          answer(out, id, study);
          id = f[1];
          study = new UnitizingAnnotationStudy(Integer.parseInt(f[2]), Long.parseLong(f[3]), Long.parseLong(f[4]));
          break;
        case "unit":
          study.addUnit(Long.parseLong(f[1]), Long.parseLong(f[2]), Integer.parseInt(f[3]), f[4]);
          break;
        default:
          throw new IllegalArgumentException("unknown record: " + line);
      }
    }
    answer(out, id, study);
    out.flush();
  }

  static void answer(PrintWriter out, String id, UnitizingAnnotationStudy study) {
    if (study == null) {
      return;
    }
    StringBuilder b = new StringBuilder();
    try {
      Exposed alpha = new Exposed(study);
      b.append("study\t").append(id).append('\t').append(alpha.calculateAgreement())
          .append('\t').append(alpha.observed()).append('\t').append(alpha.expected()).append('\n');
      for (Object c : study.getCategories()) {
        b.append("category\t").append(id).append('\t').append(c).append('\t')
            .append(alpha.calculateCategoryAgreement(c)).append('\t').append(alpha.observed(c))
            .append('\t').append(alpha.expected(c)).append('\n');
      }
    } catch (RuntimeException e) {
      b.setLength(0);
      b.append("error\t").append(id).append('\t').append(e.toString().replace('\n', ' ')).append('\n');
    }
    out.print(b);
  }

  // version is the library's own pom.properties version (its manifest names none).
  static String version() throws Exception {
    try (InputStream p = KrippendorffAlphaUnitizingAgreement.class.getResourceAsStream(
        "/META-INF/maven/org.dkpro.statistics/dkpro-statistics-agreement/pom.properties")) {
      if (p == null) {
        return "unknown";
      }
      Properties props = new Properties();
      props.load(p);
      return props.getProperty("version", "unknown");
    }
  }
}
