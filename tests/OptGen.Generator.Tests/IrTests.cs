using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using OptGen.Generator.AttributeRules;
using OptGen.Generator.Emit;
using OptGen.Generator.Helpers;
using OptGen.Generator.Ir;
using OptGen.Generator.Model;
using Xunit;

namespace OptGen.Generator.Tests;

/// <summary>
/// The shared back half (src/Generator/Ir): the frozen canonical form ids are hashed from, the math printer the
/// documentation comes from, the function table, and the attribute components' declarations.
/// </summary>
public sealed class IrTests
{
    /// <summary>
    /// The rule id of every catalog optimizer as OptGen 0.1 computed it, or as the version that added it computed
    /// it (NAdamW, RAdamW: added after 0.1; checkpoints store the id and refuse to load into a different rule). Pinned here apart from the snapshots, which an accepting run can rewrite: a change of
    /// any of these is a new <see cref="CanonicalForm"/> version, never an edit of V1.
    /// </summary>
    private static readonly Dictionary<string, string> CatalogRuleIds = new()
    {
        ["AdaBelief"] = "c73310bffe246e44",
        ["Adadelta"] = "21ab5c4092e2be8e",
        ["Adagrad"] = "95e6f07c2bcad5a7",
        ["AdagradRms"] = "d0969f48b224e945",
        ["Adam"] = "ddfc8ffe947654f9",
        ["AdamAmsGrad"] = "5cc1e38f95632022",
        ["AdamDecoupledEpsilon"] = "4d9480d8e46bd078",
        ["AdamExpression"] = "0cab235e283f8624",
        ["AdamMinT"] = "27ab208b9b92e8d1",
        ["AdamW"] = "bf6299bfe117bd9a",
        ["AdamWAmsGrad"] = "b556df173188a6db",
        ["Adamax"] = "639d12c20ab2a03c",
        ["Adan"] = "2915833bf006eb12",
        ["ClassicMomentum"] = "4846fbe7702e23d3",
        ["EmaMomentum"] = "87a3ebebce9f2471",
        ["Lion"] = "f24909c738cf7137",
        ["NAdam"] = "9e1c1a991a6f414c",
        ["NAdamW"] = "1ba2ed0c33c2d91f",
        ["RAdam"] = "768ea87b661b500d",
        ["RAdamW"] = "4ff9d57c8f47c23c",
        ["RmsProp"] = "f3ce43328efd8e30",
        ["RmsPropAlpha"] = "4e16ff5d9c7eff07",
        ["RmsPropCentered"] = "302cf217cbee3563",
        ["RmsPropCenteredMomentum"] = "e9dd496b2eaaf615",
        ["RmsPropEpsilonInside"] = "e0e96fcfb2876cee",
        ["RmsPropEpsilonOutside"] = "66f13fed09408b68",
        ["RmsPropMomentum"] = "dad12961f84b3aa2",
        ["Sgd"] = "8256bd08e19663af",
        ["SgdMomentum"] = "4f63360a8cb7c821",
        ["SgdNesterov"] = "aa75312f431c9256",
        ["Signum"] = "e4edab51a02ebc11",
    };

    [Theory]
    [MemberData(nameof(CatalogSnapshotTests.CatalogClasses), MemberType = typeof(CatalogSnapshotTests))]
    public void CatalogRuleIdsAreFrozen(string name)
    {
        GeneratorHarness.Run run = GeneratorHarness.Generate("using OptGen;\nnamespace Catalog;\n\n" + CatalogSnapshotTests.Declarations()[name]);
        string optimizer = run.Files.Single(f => !f.Key.StartsWith("OptGen.Generated.", StringComparison.Ordinal)).Value;
        Assert.Equal(CatalogRuleIds[name], Regex.Match(optimizer, "ruleId: \"([0-9a-f]{16})\"").Groups[1].Value);
    }

    [Fact]
    public void CanonicalFormVersion1IsTheTextOf01()
    {
        var program = new UpdateProgram(
            new[] { new HyperparameterDecl("LearningRate", "η", 0.1, Model.HyperparameterRange.NonNegative, false, "η") }.ToEquatableArray(),
            new[] { new StateDecl("FirstMoment", "m", string.Empty, "m") }.ToEquatableArray(),
            new[]
            {
                new HostStatement("Rate", Expr.Binary(ExprOp.Max, Expr.Constant(1) / Expr.Step(), -Expr.Hyperparameter("LearningRate")), false, "ignored"),
                new HostStatement("StepSize", Expr.Host("Rate") * Expr.Constant(2), true, "ignored"),
            }.ToEquatableArray(),
            new[]
            {
                new ElementStatement("d", Expr.Var("m") - (Expr.Var("g") - Expr.Var("p")), true, "comment"),
                new ElementStatement("p", Expr.Var("p") - (Expr.Scalar("StepSize") * Expr.Unary(ExprOp.Sqrt, Expr.Var("d"))), false, "step"),
            }.ToEquatableArray(),
            EquatableArray<string>.Empty)
        {
            HostStates = new[] { new HostStateDecl("Product", "Π", 1, Expr.HostStateValue("Product") * Expr.Constant(0.5), "Π") }.ToEquatableArray(),
        };

        Assert.Equal(
            "LearningRate,|FirstMoment:m:,|host:Product:1.0:Product * 0.5,|Rate=Max(1.0 / t, -LearningRate);StepSize=Rate * 2.0!;|d=m - (g - p);p=p - StepSize * Sqrt(d);",
            CanonicalForm.V1.Program(program, FrontEnd.Attributes));
        Assert.Equal(
            "expr|LearningRate|FirstMoment:m|Rate=Max(1.0 / t, -LearningRate);StepSize=Rate * 2.0!;|let d=m - (g - p);p=p - StepSize * Sqrt(d);",
            CanonicalForm.V1.Program(program, FrontEnd.Expressions));
        Assert.Equal("m|StepSize|d=m - (g - p);p=p - StepSize * Sqrt(d);", CanonicalForm.V1.Kernel(program, FrontEnd.Attributes));
        Assert.Equal("m|StepSize|let d=m - (g - p)//comment;p=p - StepSize * Sqrt(d)//step;", CanonicalForm.V1.Kernel(program, FrontEnd.Expressions));

        // 64-bit FNV-1a of the text, as 16 hex digits (offset basis and prime of the FNV-1a definition).
        ulong hash = 14695981039346656037;
        foreach (char c in CanonicalForm.V1.Program(program, FrontEnd.Attributes))
        {
            hash = (hash ^ c) * 1099511628211;
        }

        Assert.Equal(hash.ToString("x16"), CanonicalForm.RuleId(program, FrontEnd.Attributes));
    }

    [Fact]
    public void EveryOperationHasACanonicalNameAndMath()
    {
        Expr x = Expr.Var("x");
        foreach (ExprOp op in Enum.GetValues<ExprOp>())
        {
            Expr e = op switch
            {
                ExprOp.Constant => Expr.Constant(2),
                ExprOp.StepNumber => Expr.Step(),
                ExprOp.Hyperparameter or ExprOp.RuntimeInput or ExprOp.HostValue or ExprOp.HostState or ExprOp.Scalar or ExprOp.Variable => new Expr(op, 0, "Name", EquatableArray<Expr>.Empty),
                ExprOp.RandomNormal or ExprOp.RandomUniform => new Expr(op, 3, string.Empty, EquatableArray<Expr>.Empty),
                ExprOp.Negate or ExprOp.Abs or ExprOp.Sqrt or ExprOp.Exp or ExprOp.Log or ExprOp.Sign => Expr.Unary(op, x),
                ExprOp.Select => Expr.Select(Expr.Binary(ExprOp.Less, x, x), x, x),
                ExprOp.MultiplyAdd => Expr.MultiplyAdd(-x, x, x),
                _ => Expr.Binary(op, x, x),
            };

            Assert.NotEmpty(CanonicalForm.Expression(e));
            Assert.NotEmpty(MathText.Print(e, new MathText.Symbols()));
        }
    }

    [Theory]
    [InlineData("η/(1 − β₁ᵗ)")]
    [InlineData("√v/√(1 − β₂ᵗ) + ε")]
    [InlineData("m ← β₁·m + (1 − β₁)·g²")]
    [InlineData("a − (b − c)")]
    [InlineData("a/(b·c)")]
    [InlineData("(η/(1 − β₁ᵗ))·dir")]
    [InlineData("0.96^((t + 1)·ψ)")]
    [InlineData("(t = 1 ? 0 : β₁)·m")]
    public void MathTextPrintsTheIrInMathNotation(string expected)
    {
        Expr one = Expr.Constant(1);
        Expr t = Expr.Step();
        Expr beta1 = Expr.Hyperparameter("Beta1");
        Expr Bc(string beta) => one - Expr.Binary(ExprOp.Pow, Expr.Hyperparameter(beta), t);
        var program = new UpdateProgram(
            new[]
            {
                new HyperparameterDecl("LearningRate", "η", 0.1, Model.HyperparameterRange.NonNegative, false, string.Empty),
                new HyperparameterDecl("Beta1", "β₁", 0.9, Model.HyperparameterRange.UnitInterval, false, string.Empty),
                new HyperparameterDecl("Beta2", "β₂", 0.9, Model.HyperparameterRange.UnitInterval, false, string.Empty),
                new HyperparameterDecl("Epsilon", "ε", 0.1, Model.HyperparameterRange.Positive, false, string.Empty),
                new HyperparameterDecl("Psi", "ψ", 0.1, Model.HyperparameterRange.Positive, false, string.Empty),
            }.ToEquatableArray(),
            EquatableArray<StateDecl>.Empty,
            new[]
            {
                new HostStatement("StepSize", Expr.Hyperparameter("LearningRate") / Bc("Beta1"), true, string.Empty),
                new HostStatement("Inverse", one / Expr.Unary(ExprOp.Sqrt, Bc("Beta2")), true, string.Empty),
                new HostStatement("Decay", beta1, true, string.Empty),
                new HostStatement("Weight", one - beta1, true, string.Empty),
                new HostStatement("Epsilon", Expr.Hyperparameter("Epsilon"), true, string.Empty),
            }.ToEquatableArray(),
            EquatableArray<ElementStatement>.Empty,
            EquatableArray<string>.Empty);
        MathText.Symbols symbols = MathText.Symbols.Of(program).Inlining(program.KernelScalars);
        Expr a = Expr.Var("a"), b = Expr.Var("b"), c = Expr.Var("c"), g = Expr.Var("g"), m = Expr.Var("m");
        string actual = expected switch
        {
            "η/(1 − β₁ᵗ)" => MathText.Print(Expr.Scalar("StepSize"), symbols),
            "√v/√(1 − β₂ᵗ) + ε" => MathText.Print((Expr.Unary(ExprOp.Sqrt, Expr.Var("v")) * Expr.Scalar("Inverse")) + Expr.Scalar("Epsilon"), symbols),
            "m ← β₁·m + (1 − β₁)·g²" => MathText.Statement(new ElementStatement("m", (Expr.Scalar("Decay") * m) + (Expr.Scalar("Weight") * g * g), false, string.Empty), symbols),
            "a − (b − c)" => MathText.Print(a - (b - c), symbols),
            "a/(b·c)" => MathText.Print(a / (b * c), symbols),
            "(η/(1 − β₁ᵗ))·dir" => MathText.Print(Expr.Scalar("StepSize") * Expr.Var("dir"), symbols),
            "0.96^((t + 1)·ψ)" => MathText.Print(Expr.Binary(ExprOp.Pow, Expr.Constant(0.96), (t + one) * Expr.Hyperparameter("Psi")), symbols),
            _ => MathText.Print(Expr.Select(Expr.Binary(ExprOp.Equal, t, one), Expr.Constant(0), beta1) * m, symbols),
        };
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void TheFunctionTableIsTheOneTheMessageAndTheDocsUse()
    {
        string caller = ThisFile();
        // OPTG0103's list, as 0.1 wrote it by hand, with batchDecay (per-example units) after pow.
        Assert.Equal("sqrt, rsqrt, abs, sign, exp, log, min, max, clamp, lerp, fma, select, (per element only) randn() and rand(), and (per step only) pow, batchDecay", Functions.Description);
        string docs = File.ReadAllText(Path.Combine(Path.GetDirectoryName(caller)!, "..", "..", "docs", "expressions.md"));
        foreach (FunctionInfo function in Functions.All)
        {
            Assert.True(docs.Contains("`" + function.Name + "(", StringComparison.Ordinal), $"docs/expressions.md does not document {function.Name}()");
        }

        // Every function the docs' table lists is in the table.
        foreach (Match call in Regex.Matches(docs, @"^\| `([a-z]+)\(", RegexOptions.Multiline))
        {
            Assert.True(Functions.Contains(call.Groups[1].Value), $"docs/expressions.md documents {call.Groups[1].Value}(), which the binder does not know");
        }
    }

    /// <summary>
    /// The issue's example: 0.1's Adam kernel said <c>// Step: p ← p − η·dir</c> while its StepSize is η/(1 − β₁ᵗ).
    /// The comment now names the scalar the statement reads, and the scalar's documented formula is its host code.
    /// </summary>
    [Fact]
    public void AdamsStepCommentAndStepSizeFormulaComeFromTheIr()
    {
        GeneratorHarness.Run run = GeneratorHarness.Generate("using OptGen;\nnamespace Catalog;\n\n" + CatalogSnapshotTests.Declarations()["Adam"]);
        string kernel = run.Files.Single(f => f.Key.StartsWith("OptGen.Generated.", StringComparison.Ordinal)).Value;
        string optimizer = run.Files.Single(f => !f.Key.StartsWith("OptGen.Generated.", StringComparison.Ordinal)).Value;

        Assert.Contains("// Step: p ← p − StepSize·dir.\n            p = p - StepSize * dir;", kernel.Replace("\r\n", "\n", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Contains("// StepSize = η/(1 − β₁ᵗ)\n            double StepSize = learningRate / (1.0 - global::System.Math.Pow(beta1, t));", optimizer.Replace("\r\n", "\n", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Contains("/// p ← p − (η/(1 − β₁ᵗ))·dir", optimizer, StringComparison.Ordinal);
        Assert.DoesNotContain("a₁", kernel, StringComparison.Ordinal);
    }

    [Fact]
    public void KernelModelsCompareByValue()
    {
        KernelModel a = AttributeLowering.Lower(Spec(SpecKind.Adam)).Kernel;
        KernelModel b = AttributeLowering.Lower(Spec(SpecKind.Adam)).Kernel;
        Assert.NotSame(a, b);
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());

        OptimizerSpec insideSqrt = Spec(SpecKind.Adam);
        insideSqrt = insideSqrt with { Epsilon = insideSqrt.Epsilon! with { Placement = Model.EpsilonPlacement.InsideSqrt } };
        KernelModel c = AttributeLowering.Lower(insideSqrt).Kernel;
        Assert.NotEqual(a, c);
        Assert.NotEqual(a.Body, c.Body);
    }

    [Theory]
    [InlineData(SpecKind.Adam)]
    [InlineData(SpecKind.NAdam)]
    [InlineData(SpecKind.RAdam)]
    [InlineData(SpecKind.Adadelta)]
    [InlineData(SpecKind.CenteredMomentum)]
    public void DeclarationsAloneNameTheMembersTheLoweringDeclares(SpecKind kind)
    {
        OptimizerSpec spec = Spec(kind);
        OptimizerModel model = AttributeLowering.Lower(spec);
        string[] lowered = model.Program.Hyperparameters.Select(h => h.Name)
            .Concat(model.Program.States.Select(s => s.Name))
            .Concat(model.Program.HostStates.Select(s => s.Name))
            .ToArray();
        string[] declared = AttributeLowering.GeneratedMemberNames(spec).ToArray();
        Assert.Equal(lowered, declared.Take(lowered.Length));
        Assert.Equal(GeneratedMembers.EveryOptimizer, declared.Skip(lowered.Length));

        // The storage order is LearningRate first and Maximize last, whatever order the components run in.
        Assert.Equal("LearningRate", lowered[0]);
        Assert.Equal("Maximize", model.Program.Hyperparameters.Last().Name);
    }

    private static string ThisFile([CallerFilePath] string caller = "") => caller;

    public enum SpecKind
    {
        Adam,
        NAdam,
        RAdam,
        Adadelta,
        CenteredMomentum,
    }

    private static OptimizerSpec Spec(SpecKind kind)
    {
        var type = new TypeDeclarationInfo("Demo", kind.ToString(), EquatableArray<string>.Empty, "Demo." + kind);
        var first = new FirstMomentSpec(0.9, Model.MomentInput.Gradient, Model.MomentStart.Zero);
        var second = new SecondMomentSpec(0.999, Model.SecondMomentKind.ExponentialAverage, Model.MomentStart.Zero, false, 0, false, 0.5, "Beta2");
        var eps = new EpsilonSpec(1e-8, Model.EpsilonPlacement.OutsideSqrt, false);
        var decay = new WeightDecaySpec(0, false);
        return kind switch
        {
            SpecKind.Adam => new OptimizerSpec(type, "Adam", 1e-3, 0, false, first, second, Model.BiasCorrectionMode.Power, eps, false, null, decay, true),
            SpecKind.NAdam => new OptimizerSpec(type, "NAdam", 2e-3, 0, false, first, second, Model.BiasCorrectionMode.Power, eps, false, null, decay, true)
            {
                NesterovMomentumDecay = new NesterovMomentumDecaySpec(0.004),
            },
            SpecKind.RAdam => new OptimizerSpec(type, "RAdam", 1e-3, 0, false, first, second, Model.BiasCorrectionMode.Power, eps, false, null, decay, true)
            {
                Rectified = new RectifiedSpec(5),
            },
            SpecKind.Adadelta => new OptimizerSpec(type, "Adadelta", 1, 0, false, null, second with { PropertyName = "Rho" }, Model.BiasCorrectionMode.None, eps with { Placement = Model.EpsilonPlacement.InsideSqrt }, false, null, decay, true)
            {
                DeltaAccumulator = true,
            },
            _ => new OptimizerSpec(type, "RMSprop", 1e-2, 0, false, null, second with { Centered = true, PropertyName = "Alpha" }, Model.BiasCorrectionMode.None, eps, true,
                new MomentumSpec(0.9, 0, false, Model.MomentumStyle.PyTorch), decay with { Decoupled = true }, true),
        };
    }
}
