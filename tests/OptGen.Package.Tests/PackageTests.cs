using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Xml.Linq;
using Xunit;

namespace OptGen.Package.Tests;

/// <summary>
/// The package tier: the packed <c>OptGen</c> package has the right layout and metadata, and a project that knows
/// OptGen only as a package builds without warnings, gets generated code, and steps correctly.
/// </summary>
[Collection(PackageCollection.Name)]
public sealed class PackageTests(PackageFixture fixture)
{
    [Fact]
    public void PackageHoldsTheRuntimeTheGeneratorAndTheMetadata()
    {
        Assert.True(fixture.Pack.Succeeded && File.Exists(fixture.PackagePath), $"dotnet pack failed:\n{fixture.Pack}");

        using ZipArchive package = ZipFile.OpenRead(fixture.PackagePath);
        var entries = package.Entries.Select(e => e.FullName).ToHashSet(StringComparer.Ordinal);
        string listing = string.Join('\n', entries.Order(StringComparer.Ordinal));

        Assert.True(entries.Contains("lib/net10.0/OptGen.dll"), "The runtime is not in lib/net10.0:\n" + listing);
        Assert.True(entries.Contains("lib/net10.0/OptGen.xml"), "The runtime's XML docs are not in lib/net10.0:\n" + listing);
        Assert.True(entries.Contains("analyzers/dotnet/cs/OptGen.Generator.dll"), "The generator is not in analyzers/dotnet/cs:\n" + listing);
        Assert.True(entries.Contains("analyzers/dotnet/cs/OptGen.CodeFixes.dll"), "The code fixes are not in analyzers/dotnet/cs:\n" + listing);
        Assert.True(entries.Contains("README.md"), "No README.md:\n" + listing);
        Assert.True(entries.Contains("LICENSE"), "No LICENSE:\n" + listing);
        Assert.DoesNotContain(entries, e => e.StartsWith("lib/", StringComparison.Ordinal) && e.Contains("Generator", StringComparison.Ordinal));

        ZipArchiveEntry nuspecEntry = package.Entries.Single(e => e.FullName == "OptGen.nuspec");
        XDocument nuspec;
        using (Stream stream = nuspecEntry.Open())
        {
            nuspec = XDocument.Load(stream);
        }

        XElement metadata = nuspec.Root!.Elements().Single(e => e.Name.LocalName == "metadata");
        string Value(string name) => metadata.Elements().SingleOrDefault(e => e.Name.LocalName == name)?.Value ?? string.Empty;

        Assert.Equal("OptGen", Value("id"));
        Assert.Equal(fixture.PackageVersion, Value("version"));
        Assert.Equal("MIT", Value("license"));
        Assert.Equal("README.md", Value("readme"));
        Assert.False(string.IsNullOrWhiteSpace(Value("authors")));
        Assert.Contains("source generator", Value("description"), StringComparison.Ordinal);
        Assert.Contains("optimizer", Value("tags"), StringComparison.Ordinal);
        Assert.NotNull(metadata.Elements().SingleOrDefault(e => e.Name.LocalName == "repository")?.Attribute("url"));

        // The generator is build-time only: it must not become a package dependency.
        IEnumerable<string> dependencies = metadata.Descendants().Where(e => e.Name.LocalName == "dependency").Select(e => e.Attribute("id")!.Value);
        Assert.DoesNotContain(dependencies, d => d.Contains("Generator", StringComparison.OrdinalIgnoreCase));

        // Exactly the runtime's own dependencies (docs/packaging.md): ILGPU for the GPU path, System.IO.Hashing for checkpoints.
        Assert.Equal(new[] { "ILGPU", "System.IO.Hashing" }, dependencies.Distinct().Order(StringComparer.Ordinal));
    }

    [Fact]
    public void ConsumerBuildsWithoutWarningsAndGetsGeneratedCode()
    {
        CommandResult build = RequireBuild();
        Assert.DoesNotMatch(@"(?m): warning [A-Z]+\d+", build.Output);

        // The package was restored from the feed, at the version just packed, into the consumer's own package folder.
        string assets = File.ReadAllText(Path.Combine(fixture.ConsumerDirectory, "obj", "project.assets.json"));
        Assert.Contains($"\"OptGen/{fixture.PackageVersion}\"", assets, StringComparison.Ordinal);
        Assert.True(Directory.Exists(Path.Combine(fixture.PackagesDirectory, "optgen", fixture.PackageVersion)), "OptGen was not extracted into the isolated package folder.");

        // The runtime is a reference; the generator ran inside the compiler and is not copied next to the app.
        Assert.Contains("OptGen.dll", fixture.OutputFiles);
        Assert.DoesNotContain("OptGen.Generator.dll", fixture.OutputFiles);

        // One file per declared optimizer and one per distinct kernel, each marked as generated.
        string list = string.Join(", ", fixture.GeneratedFiles.Keys);
        Assert.True(fixture.GeneratedFiles.ContainsKey("PackagedAdamW.g.cs"), "No PackagedAdamW.g.cs among the generated files: " + list);
        Assert.True(fixture.GeneratedFiles.ContainsKey("PackagedNesterov.g.cs"), "No PackagedNesterov.g.cs among the generated files: " + list);
        Assert.True(fixture.GeneratedFiles.Keys.Count(f => f.StartsWith("OptGen.Generated.UpdateKernel_", StringComparison.Ordinal) && !f.EndsWith("_Gpu.g.cs", StringComparison.Ordinal)) == 2, "Expected two kernels: " + list);

        // ILGPU comes with the package, so the consumer's optimizers get GPU kernels too (docs/gpu.md).
        Assert.True(fixture.GeneratedFiles.Keys.Count(f => f.EndsWith("_Gpu.g.cs", StringComparison.Ordinal)) == 2, "Expected two GPU kernels: " + list);
        Assert.True(fixture.GeneratedFiles.ContainsKey("PackagedAdamW.Gpu.g.cs"), "No PackagedAdamW.Gpu.g.cs among the generated files: " + list);
        Assert.All(fixture.GeneratedFiles.Values, text => Assert.StartsWith("// <auto-generated/>", text, StringComparison.Ordinal));
    }

    [Fact]
    public void ConsumerStepsMatchFloat64References()
    {
        RequireBuild();
        CommandResult run = fixture.Run!;
        Assert.True(run.Succeeded, $"The consumer failed:\n{run}");

        Dictionary<string, Trace> traces = Trace.Parse(run.Output);
        Assert.Equal(["Adam", "PackagedAdamW", "PackagedNesterov"], traces.Keys.Order(StringComparer.Ordinal));

        // The declarations in Consumer/Program.cs, restated from the formulas.
        Check(traces["PackagedAdamW"], new AdamReference(lr: 0.01, beta1: 1 - (1.0 / 10), beta2: 1 - (1.0 / 1000), eps: 1e-8, decoupledDecay: 0.01));
        Check(traces["PackagedNesterov"], new NesterovReference(lr: 0.05, momentum: 0.9, l2: 1e-3));
        Check(traces["Adam"], new AdamReference(lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, decoupledDecay: 0));
    }

    [Fact]
    public void PackagedGeneratorReportsMistakesAtTheArgument()
    {
        RequireBuild();
        CommandResult build = fixture.InvalidBuild!;
        Assert.False(build.Succeeded, $"A declaration with Length = 0 compiled:\n{build}");

        // OPTG0008 (invalid averaging length), located at `Length = 0` on line 8 of Invalid.cs.
        Assert.Matches(@"Invalid[\\/]Invalid\.cs\(8,\d+\): error OPTG0008", build.Output);

        // And nothing else: the valid declarations next to it still generate cleanly.
        string[] codes = System.Text.RegularExpressions.Regex.Matches(build.Output, @"error (OPTG\d{4})").Select(m => m.Groups[1].Value).Distinct().ToArray();
        Assert.True(codes.SequenceEqual(["OPTG0008"]), $"Expected only OPTG0008, got {string.Join(", ", codes)}:\n{build}");
    }

    private CommandResult RequireBuild()
    {
        Assert.True(fixture.Pack.Succeeded, $"dotnet pack failed, so the consumer was not built:\n{fixture.Pack}");
        CommandResult build = fixture.Build!;
        Assert.True(build.Succeeded, $"The consumer did not build against the package:\n{build}");
        return build;
    }

    internal static void Check(Trace trace, IReference reference)
    {
        int n = trace.Initial.Length;
        float[] p = (float[])trace.Initial.Clone();
        reference.Reset(n);
        Assert.True(trace.Steps.Count == 6, $"{trace.Name}: expected 6 steps, got {trace.Steps.Count}.");
        for (int t = 1; t <= trace.Steps.Count; t++)
        {
            (float[] g, float[] actual) = trace.Steps[t - 1];
            reference.Step(p, g, t);
            for (int i = 0; i < n; i++)
            {
                double tolerance = 2e-6 * Math.Max(1, Math.Abs(p[i]));
                Assert.True(
                    Math.Abs(actual[i] - p[i]) <= tolerance,
                    $"{trace.Name}, step {t}, element {i}: package gave {actual[i]:R}, the float64 reference {p[i]:R}.");
            }
        }
    }

    /// <summary>What the consumer printed for one optimizer: p₀, then (g, p after the step) for t = 1, 2, ….</summary>
    internal sealed record Trace(string Name, float[] Initial, List<(float[] Gradient, float[] Parameters)> Steps)
    {
        public static Dictionary<string, Trace> Parse(string output)
        {
            var initial = new Dictionary<string, SortedDictionary<int, float>>();
            var records = new Dictionary<(string Kind, string Name, int T), SortedDictionary<int, float>>();
            foreach (string line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                string[] f = line.Split(' ');
                if (f[0] == "p0" && f.Length == 4)
                {
                    Add(initial, f[1], f[2], f[3]);
                }
                else if (f[0] is "g" or "p" && f.Length == 5)
                {
                    Add(records, (f[0], f[1], int.Parse(f[2], CultureInfo.InvariantCulture)), f[3], f[4]);
                }
                else
                {
                    throw new FormatException($"Unexpected consumer output line: '{line}'.");
                }
            }

            return initial.ToDictionary(
                e => e.Key,
                e => new Trace(
                    e.Key,
                    e.Value.Values.ToArray(),
                    Enumerable.Range(1, records.Keys.Where(k => k.Name == e.Key && k.Kind == "p").Select(k => k.T).DefaultIfEmpty(0).Max())
                        .Select(t => (records[("g", e.Key, t)].Values.ToArray(), records[("p", e.Key, t)].Values.ToArray()))
                        .ToList()));
        }

        private static void Add<TKey>(Dictionary<TKey, SortedDictionary<int, float>> into, TKey key, string index, string value)
            where TKey : notnull
        {
            if (!into.TryGetValue(key, out SortedDictionary<int, float>? values))
            {
                into[key] = values = [];
            }

            values.Add(int.Parse(index, CultureInfo.InvariantCulture), float.Parse(value, CultureInfo.InvariantCulture));
        }
    }

    internal interface IReference
    {
        void Reset(int n);

        /// <summary>Step t in float64; <paramref name="p"/> is float32 between steps, as in memory.</summary>
        void Step(float[] p, float[] g, int t);
    }

    /// <summary>torch.optim.Adam/AdamW: p ← p(1 − ηλ); m ← β₁m + (1 − β₁)g; v ← β₂v + (1 − β₂)g²; p ← p − η·m̂/(√v̂ + ε).</summary>
    internal sealed class AdamReference(double lr, double beta1, double beta2, double eps, double decoupledDecay) : IReference
    {
        private double[] _m = [], _v = [];

        public void Reset(int n) => (_m, _v) = (new double[n], new double[n]);

        public void Step(float[] p, float[] g, int t)
        {
            for (int i = 0; i < p.Length; i++)
            {
                double param = p[i] * (1 - (lr * decoupledDecay));
                _m[i] = (beta1 * _m[i]) + ((1 - beta1) * g[i]);
                _v[i] = (beta2 * _v[i]) + ((1 - beta2) * g[i] * g[i]);
                double mHat = _m[i] / (1 - Math.Pow(beta1, t));
                double vHat = _v[i] / (1 - Math.Pow(beta2, t));
                p[i] = (float)(param - (lr * mHat / (Math.Sqrt(vHat) + eps)));
            }
        }
    }

    /// <summary>torch.optim.SGD(nesterov=True): g ← g + λp; b ← μb + g (b₁ = g); p ← p − η(g + μb).</summary>
    private sealed class NesterovReference(double lr, double momentum, double l2) : IReference
    {
        private double[] _b = [];

        public void Reset(int n) => _b = new double[n];

        public void Step(float[] p, float[] g, int t)
        {
            for (int i = 0; i < p.Length; i++)
            {
                double grad = g[i] + (l2 * p[i]);
                _b[i] = t == 1 ? grad : (momentum * _b[i]) + grad;
                p[i] = (float)(p[i] - (lr * (grad + (momentum * _b[i]))));
            }
        }
    }
}
