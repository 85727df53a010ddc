using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using OptGen.Generator.Emit;
using OptGen.Generator.Helpers;
using OptGen.Generator.Model;

namespace OptGen.Generator
{
    /// <summary>
    /// The OptGen pipeline: [Optimizer] classes → <see cref="Parser"/> (spec + diagnostics) →
    /// <see cref="AttributeRules.AttributeLowering"/> or <see cref="ExpressionLowering"/>, then <see cref="Ir.PostPass"/> (update IR) → <see cref="CpuEmitter"/> (C#), and <see cref="GpuEmitter"/> (ILGPU kernels) when
    /// the compilation references ILGPU. Kernels are emitted once per distinct
    /// per-element program (compared structurally), so classes that declare the same rule share one kernel.
    /// </summary>
    [Generator(LanguageNames.CSharp)]
    public sealed class OptGenGenerator : IIncrementalGenerator
    {
        /// <inheritdoc/>
        public void Initialize(IncrementalGeneratorInitializationContext context)
        {
            IncrementalValuesProvider<ParseResult> parsed = context.SyntaxProvider
                .ForAttributeWithMetadataName(
                    Parser.OptimizerAttribute,
                    static (node, _) => node is TypeDeclarationSyntax,
                    Parser.Parse)
                .WithTrackingName(TrackingNames.Parse);

            Report(context, parsed.SelectMany(static (result, _) => result.Diagnostics).WithTrackingName(TrackingNames.Diagnostics));

            // Update-rule attributes on a type without [Optimizer] do nothing: say so (OPTG0019).
            foreach (string ruleAttribute in Parser.RuleAttributes)
            {
                IncrementalValuesProvider<Diagnostics.DiagnosticInfo> orphans = context.SyntaxProvider
                    .ForAttributeWithMetadataName(
                        Parser.Namespace + ruleAttribute,
                        static (node, _) => node is TypeDeclarationSyntax,
                        Parser.CheckRuleWithoutOptimizer)
                    .SelectMany(static (diagnostics, _) => diagnostics)
                    .WithTrackingName(TrackingNames.RuleWithoutOptimizer);
                Report(context, orphans);
            }

            IncrementalValuesProvider<OptimizerModel> models = parsed
                .Where(static result => result.Spec is not null || result.Expression is not null)
                .Select(static (result, _) => (result.Expression is not null ? ExpressionLowering.Lower(result.Expression) : AttributeRules.AttributeLowering.Lower(result.Spec!)) with { Storage = result.Storage })
                .WithTrackingName(TrackingNames.Lower);

            // [NonNegativeState] overrides are checked against the lowered rule's state buffers (OPTG0200).
            Report(context, models.SelectMany(static (model, _) => StateStorage.StateStorageRules.Check(model)));

            // Names are decided for the whole compilation at once (OutputNames): kernels are shared by structural
            // equality of their models, never by their hash names alone, and file names are unique ignoring case.
            IncrementalValueProvider<OutputPlan> plan = models
                .Where(static model => !StateStorage.StateStorageRules.Check(model).Any())
                .Collect()
                .Select(static (all, _) => OutputNames.Plan(all))
                .WithTrackingName(TrackingNames.Plan);

            IncrementalValuesProvider<OptimizerModel> optimizers = plan
                .SelectMany(static (p, _) => p.Optimizers)
                .WithTrackingName(TrackingNames.Optimizers);

            context.RegisterSourceOutput(
                optimizers,
                static (output, model) => output.AddSource(CpuEmitter.OptimizerHintName(model), CpuEmitter.EmitOptimizer(model)));

            IncrementalValuesProvider<KernelUse> kernels = plan
                .SelectMany(static (p, _) => p.Kernels)
                .WithTrackingName(TrackingNames.Kernels);

            context.RegisterSourceOutput(
                kernels,
                static (output, use) => output.AddSource(CpuEmitter.KernelHintName(use.Kernel), CpuEmitter.EmitKernel(use.Kernel, use.Users.ToArray(), use.ScalarNotes.ToArray())));

            // GPU: only when the compilation references ILGPU. The flag is a bool, so a new compilation that still
            // references ILGPU leaves every GPU output cached.
            IncrementalValueProvider<bool> gpu = context.CompilationProvider
                .Select(static (compilation, _) => compilation.GetTypeByMetadataName(GpuEmitter.IlgpuMarkerType) is not null)
                .WithTrackingName(TrackingNames.Gpu);

            // ILGPU's CPU accelerator builds its launcher in a dynamic assembly named "ILGPURuntime", which must see
            // the internal kernel structs.
            context.RegisterSourceOutput(
                models.Collect().Select(static (all, _) => !all.IsEmpty).Combine(gpu),
                static (output, pair) =>
                {
                    if (pair.Left && pair.Right)
                    {
                        output.AddSource(GpuEmitter.AccessHintName, GpuEmitter.EmitAccess());
                    }
                });

            context.RegisterSourceOutput(
                optimizers.Combine(gpu).Where(static pair => pair.Right && GpuEmitter.HasGpuKernel(pair.Left.Kernel)).Select(static (pair, _) => pair.Left),
                static (output, model) => output.AddSource(GpuEmitter.OptimizerHintName(model), GpuEmitter.EmitOptimizer(model)));

            context.RegisterSourceOutput(
                kernels.Combine(gpu).Where(static pair => pair.Right && GpuEmitter.HasGpuKernel(pair.Left.Kernel)).Select(static (pair, _) => pair.Left),
                static (output, use) => output.AddSource(GpuEmitter.KernelHintName(use.Kernel), GpuEmitter.EmitKernel(use.Kernel, use.Users.ToArray())));
        }

        /// <summary>Reports diagnostics at source locations of the current compilation (<see cref="Diagnostics.DiagnosticInfo.Locate"/>).</summary>
        private static void Report(IncrementalGeneratorInitializationContext context, IncrementalValuesProvider<Diagnostics.DiagnosticInfo> diagnostics)
        {
            IncrementalValueProvider<EquatableArray<Diagnostic>> located = diagnostics.Collect()
                .Combine(context.CompilationProvider)
                .Select(static (pair, _) => Diagnostics.DiagnosticInfo.Locate(pair.Left, pair.Right))
                .WithTrackingName(TrackingNames.Locate);
            context.RegisterSourceOutput(located, static (output, all) =>
            {
                foreach (Diagnostic diagnostic in all)
                {
                    output.ReportDiagnostic(diagnostic);
                }
            });
        }
    }

    /// <summary>Names of the tracked pipeline steps, for the incremental-caching tests.</summary>
    public static class TrackingNames
    {
        /// <summary>Attributes read into specs and diagnostics.</summary>
        public const string Parse = nameof(Parse);

        /// <summary>Diagnostics flattened for reporting.</summary>
        public const string Diagnostics = nameof(Diagnostics);

        /// <summary>Specs lowered to the update IR.</summary>
        public const string Lower = nameof(Lower);

        /// <summary>Every generated name decided for the compilation (<see cref="OutputNames"/>).</summary>
        public const string Plan = nameof(Plan);

        /// <summary>The optimizers with their final file and kernel names.</summary>
        public const string Optimizers = nameof(Optimizers);

        /// <summary>Distinct kernels and their users.</summary>
        public const string Kernels = nameof(Kernels);

        /// <summary>Whether the compilation references ILGPU (GPU kernels are emitted only then).</summary>
        public const string Gpu = nameof(Gpu);

        /// <summary>Warnings for update-rule attributes on a type without [Optimizer].</summary>
        public const string RuleWithoutOptimizer = nameof(RuleWithoutOptimizer);

        /// <summary>Diagnostics located in the current compilation's syntax trees, for reporting.</summary>
        public const string Locate = nameof(Locate);
    }
}
