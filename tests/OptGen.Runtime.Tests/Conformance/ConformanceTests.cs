using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using Xunit;
using Xunit.Abstractions;

namespace OptGen.Runtime.Tests.Conformance;

/// <summary>
/// The conformance suite of SCHEMA.md: every case in tests/conformance/cases and, when OPTGEN_CONFORMANCE_DIR is
/// set, every case below that folder, each its own test named after the case. The optimizer is built from the
/// catalog (the attribute declarations users get) by <see cref="CatalogFactory"/>; grads[t − 1] is fed at step t,
/// lr_per_step[t − 1] (when present) replaces the learning rate of step t, and the case passes when
/// max |p − p_ref| ≤ rtol · max |p_ref| over all steps and elements, with any NaN or ∞ failing. Every case runs on
/// every available backend (<see cref="ConformanceBackends.Available"/>: CPU SIMD, ILGPU's CPU accelerator, and CUDA
/// when a device is present; runs longer than <see cref="IlgpuCpuMaxSteps"/> skip only ILGPU's CPU accelerator), the
/// backend being the first argument of the test's name. One accelerator per backend
/// is shared by the whole class (<see cref="ConformanceAccelerators"/>).
/// </summary>
public sealed class ConformanceTests(ITestOutputHelper output, ConformanceAccelerators accelerators) : IClassFixture<ConformanceAccelerators>
{
    /// <summary>
    /// Cases longer than this many steps skip ILGPU's CPU accelerator (they still run on the CPU SIMD path and on CUDA):
    /// it simulates every kernel launch with threads, about 10 ms a step for a multi-pass rule, and a long run checks
    /// how rounding accumulates over the steps, which the shorter cases already compare between the backends.
    /// </summary>
    public const int IlgpuCpuMaxSteps = 500;

    /// <summary>(backend, case name, file) for every backend and case file; the file is relative to the repository when it lies inside it.</summary>
    public static TheoryData<string, string, string> Cases()
    {
        var data = new TheoryData<string, string, string>();
        IReadOnlyList<string> backends = ConformanceBackends.Available();
        string root = ConformanceCase.RepositoryRoot();
        foreach (string file in ConformanceCase.Discover())
        {
            CaseHeader header = CaseHeader.Read(file);
            string relative = Path.GetRelativePath(root, file);
            string shown = relative.StartsWith("..", StringComparison.Ordinal) ? file : relative.Replace('\\', '/');
            foreach (string backend in backends)
            {
                if (header.RunsOn(backend))
                {
                    data.Add(backend, header.Name, shown);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Case(string backend, string name, string file)
    {
        string path = Path.IsPathRooted(file) ? file : Path.Combine(ConformanceCase.RepositoryRoot(), file);
        ConformanceCase c = ConformanceCase.Load(path);
        Assert.Equal(name, c.Name);
        ConformanceResult result;
        try
        {
            result = ConformanceRunner.Run(c, accelerators.For(backend));
        }
        catch (Exception error)
        {
            string failure = $"[{backend}] {name}: FAIL ({error.GetType().Name}: {error.Message})";
            output.WriteLine(failure);
            Console.WriteLine(failure);
            throw;
        }

        string line = $"[{backend}] {result.Line}"
            + (c.UnusedFields.Count == 0 ? string.Empty : $" (fields not in SCHEMA, not used: {string.Join(", ", c.UnusedFields)})");
        output.WriteLine(line);
        Console.WriteLine(line);
        Assert.True(result.Passed, line + (result.FirstFailure is null ? string.Empty : " — " + result.FirstFailure));
    }

    [Fact]
    public void EveryCaseRunsOnCpuSimdAndTheIlgpuCpuAccelerator()
    {
        Assert.Equal(ConformanceBackends.HasCuda ? 3 : 2, ConformanceBackends.Available().Count);
        Assert.Contains(ConformanceBackends.CpuSimd, ConformanceBackends.Available());
        Assert.Contains(ConformanceBackends.IlgpuCpu, ConformanceBackends.Available());
        var cases = Cases().Select(row => ((string)row[0], (string)row[1])).ToHashSet();
        int skipped = 0;
        foreach (string file in ConformanceCase.Discover())
        {
            CaseHeader header = CaseHeader.Read(file);
            Assert.Contains((ConformanceBackends.CpuSimd, header.Name), cases);
            bool everywhere = header.Steps <= IlgpuCpuMaxSteps && !CatalogFactory.CpuOnlyNames.Contains(header.Optimizer ?? string.Empty);
            skipped += everywhere ? 0 : 1;
            foreach (string backend in ConformanceBackends.Available())
            {
                Assert.Equal(everywhere || backend == ConformanceBackends.CpuSimd
                    || (backend == ConformanceBackends.IlgpuCuda && header.Steps > IlgpuCpuMaxSteps), cases.Contains((backend, header.Name)));
            }
        }

        Assert.InRange(skipped, 0, 20); // only the few long runs
        Assert.Null(accelerators.For(ConformanceBackends.CpuSimd));
        Assert.Throws<ArgumentException>(() => accelerators.For("opencl"));
    }

    /// <summary>What test discovery reads of a case file: its name, optimizer and T (null / 0 where the file lacks them; loading it then fails the case).</summary>
    private sealed record CaseHeader(string Name, string? Optimizer, int Steps)
    {
        public static CaseHeader Read(string file)
        {
            try
            {
                using JsonDocument document = JsonDocument.Parse(ConformanceCase.NonFiniteLiteralsAsStrings(File.ReadAllText(file)));
                JsonElement root = document.RootElement;
                string? Text(string field) => root.ValueKind == JsonValueKind.Object && root.TryGetProperty(field, out JsonElement e) && e.ValueKind == JsonValueKind.String ? e.GetString() : null;
                int steps = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("T", out JsonElement t) && t.ValueKind == JsonValueKind.Number && t.TryGetInt32(out int T) ? T : 0;
                return new CaseHeader(Text("name") ?? "(no name)", Text("optimizer"), steps);
            }
            catch (JsonException)
            {
                return new CaseHeader("(unreadable)", null, 0);
            }
        }

        /// <summary>CPU SIMD runs every case; the ILGPU backends skip names without GPU passes, and ILGPU's CPU accelerator long runs.</summary>
        public bool RunsOn(string backend) =>
            backend == ConformanceBackends.CpuSimd
            || (!CatalogFactory.CpuOnlyNames.Contains(Optimizer ?? string.Empty) && (backend != ConformanceBackends.IlgpuCpu || Steps <= IlgpuCpuMaxSteps));
    }

    [Fact]
    public void OwnCasesCoverTheWholeVocabulary()
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        string own = Path.Combine(ConformanceCase.RepositoryRoot(), "tests", "conformance", "cases");
        foreach (string file in Directory.EnumerateFiles(own, "*.json"))
        {
            seen.Add(ConformanceCase.Load(file).Optimizer);
        }

        Assert.Equal(new SortedSet<string>(CatalogFactory.Names, StringComparer.Ordinal), new SortedSet<string>(seen, StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("Adam", """{"lr": 0.001, "betas": [0.9, 0.999], "epsilon": 1e-8}""", "'epsilon'")]
    [InlineData("Adamw", """{"lr": 0.001}""", "Unknown optimizer 'Adamw'")]
    [InlineData("lars", """{"momentum": 0.9}""", "'lr' is required")]
    [InlineData("SGD", """{"lr": 0.1, "foreach": 1}""", "'foreach' must be true, false or null")]
    [InlineData("lamb", """{"lr": 0.1, "foreach": false}""", "unknown hyperparameter 'foreach'")]
    [InlineData("Adam", """{"eps": "1e-8"}""", "'eps' must be a finite JSON number, but is \"1e-8\"")]
    [InlineData("NAdam", """{"weight_decay": 0.1, "decoupled_weight_decay": 1}""", "'decoupled_weight_decay' must be true or false")]
    [InlineData("Adagrad", """{"decoupled_weight_decay": false}""", "unknown hyperparameter 'decoupled_weight_decay'")]
    [InlineData("SGD", """{"lr": 0.1, "nesterov": true}""", "Nesterov")]
    [InlineData("Adam", """{"betas": [0.9]}""", "two finite numbers")]
    [InlineData("RMSprop", """{"centered": 1}""", "true or false")]
    [InlineData("adam_min_t", """{"Ng": 10, "Ns": 1000, "eta": 0.001}""", "'eps' is required")]
    [InlineData("classic_momentum", """{"N": 0.5, "eta": 0.01}""", "length >= 1")]
    public void UnknownNamesKeysAndBadValuesFail(string optimizer, string json, string message)
    {
        using JsonDocument document = JsonDocument.Parse(json);
        var hyperparameters = new Dictionary<string, JsonElement>();
        foreach (JsonProperty property in document.RootElement.EnumerateObject())
        {
            hyperparameters.Add(property.Name, property.Value.Clone());
        }

        ArgumentException error = Assert.ThrowsAny<ArgumentException>(() => CatalogFactory.Describe(optimizer, hyperparameters));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheCriterionCatchesNaNAndLargeErrors()
    {
        float[] reference = [1f, -2f, 0.5f];
        static bool Passes(float[] expected, float[] actual)
        {
            var errors = new ErrorAccumulator();
            errors.Add(expected, actual, 1);
            return errors.Passed(5e-6);
        }

        Assert.True(Passes(reference, [1f, -2f, 0.5f]));
        Assert.False(Passes(reference, [1f, float.NaN, 0.5f]));
        Assert.False(Passes(reference, [1f, float.PositiveInfinity, 0.5f]));
        Assert.False(Passes(reference, [1f, -2f + 1e-4f, 0.5f]));
        Assert.True(Passes(reference, [1f, -2.0000076f, 0.5f]));
    }
}
