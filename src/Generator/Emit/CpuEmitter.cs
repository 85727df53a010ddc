using System;
using System.Collections.Generic;
using System.Linq;
using OptGen.Generator.Helpers;
using OptGen.Generator.Model;

namespace OptGen.Generator.Emit
{
    /// <summary>
    /// Phase 3 (CPU): turns a lowered program into C#: the optimizer's partial class (hyperparameter properties,
    /// state views, the per-step scalar computation) and the fused SIMD kernel struct it runs.
    /// </summary>
    internal static partial class CpuEmitter
    {
        internal const string KernelNamespace = "OptGen.Generated";
        private const string Vectors = "global::System.Runtime.Intrinsics.";
        private const string Codec = "global::OptGen.Kernels.IElementCodec";
        private static readonly string Version = typeof(CpuEmitter).Assembly.GetName().Version?.ToString() ?? "0.0.0.0";

        public static string GeneratedCodeAttribute => $"[global::System.CodeDom.Compiler.GeneratedCode(\"OptGen.Generator\", \"{Version}\")]";

        public static string OptimizerHintName(OptimizerModel model) => model.Type.HintName + ".g.cs";

        public static string KernelHintName(KernelModel kernel) => KernelNamespace + "." + kernel.Name + ".g.cs";

        public static string EmitOptimizer(OptimizerModel model)
        {
            UpdateProgram program = model.Program;
            string kernelType = $"global::{KernelNamespace}.{model.Kernel.Name}";
            var w = new SourceWriter();
            Header(w);
            if (model.Type.Namespace.Length > 0)
            {
                w.Open("namespace " + model.Type.Namespace);
            }

            foreach (string containing in model.Type.ContainingTypes)
            {
                w.Open(containing);
            }

            w.Line("/// <remarks>");
            w.Line("/// <para>The update rule declared by the attributes (t = 1, 2, …; GradientScale is the runtime's factor on g, 1 unless it unscales or clips; every state starts at 0 unless stated):</para>");
            w.Line("/// <code>");
            foreach (string line in program.RuleMath)
            {
                w.Line("/// " + Xml(line));
            }

            w.Line("/// </code>");
            EmitBatchSizeRemark(w, program);
            EmitInputRemark(w, model.Kernel);
            w.Line("/// <para>" + Xml(Traffic(model.Kernel)) + "</para>");
            if (model.Kernel.Passes is Ir.PassPlan passes)
            {
                EmitPassRemarks(w, passes, kernelType);
            }
            else
            {
                if (model.Kernel.StateSymbols.Count > 0)
                {
                    w.Line("/// <para>" + Xml(BlockwiseTraffic(model.Kernel)) + "</para>");
                }

                w.Line($"/// <para>Each step is one fused pass over memory by <see cref=\"{kernelType}\"/>.</para>");
            }

            w.Line("/// </remarks>");
            w.Line(GeneratedCodeAttribute);
            w.Open($"partial class {model.Type.Name} : {(model.Kernel.Passes is null ? "global::OptGen.Optimizer" : "global::OptGen.ReductionOptimizer")}");

            // The descriptor.
            w.Line("private static readonly global::OptGen.OptimizerDescriptor RuleDescriptor = new(");
            w.Indent();
            w.Line($"name: {Literal(model.RuleName)},");
            w.Line($"ruleId: \"{model.RuleId}\",");
            w.Line("hyperparameters: new global::OptGen.HyperparameterDescriptor[]");
            w.Line("{");
            w.Indent();
            foreach (HyperparameterDecl h in program.Hyperparameters)
            {
                w.Line($"new({Literal(h.Name)}, {Literal(h.Symbol)}, {ExprText.DoubleLiteral(h.DefaultValue)}, global::OptGen.HyperparameterRange.{h.Range}),");
            }

            w.Outdent();
            w.Line("},");
            w.Line("states: new global::OptGen.StateDescriptor[]");
            w.Line("{");
            w.Indent();
            HashSet<string> nonNegative = StateStorage.StateStorageRules.NonNegative(model);
            foreach (StateDecl s in program.States)
            {
                int init = IndexOf(program.Hyperparameters, s.InitialValue);
                string sign = nonNegative.Contains(s.Symbol) ? ", IsNonNegative: true" : string.Empty;
                w.Line(init < 0 ? $"new({Literal(s.Name)}, {Literal(s.Symbol)}{sign})," : $"new({Literal(s.Name)}, {Literal(s.Symbol)}, {init}{sign}),");
            }

            w.Outdent();
            w.Line("},");
            w.Line($"bytesReadPerElement: {model.Kernel.BytesRead},");
            string inputs = DescriptorInputs(model.Kernel);
            w.Line($"bytesWrittenPerElement: {model.Kernel.BytesWritten}{(program.HostStates.Count > 0 || inputs.Length > 0 ? "," : ");")}");
            if (inputs.Length > 0)
            {
                w.Line(inputs + (program.HostStates.Count > 0 ? "," : ");"));
            }

            if (program.HostStates.Count > 0)
            {
                EmitHostStateDescriptors(w, program);
            }

            w.Outdent();
            if (model.Kernel.Passes is Ir.PassPlan plan)
            {
                EmitPassFields(w, plan);
                if (plan.IsScoped)
                {
                    EmitScopeFields(w, model.Kernel, plan);
                }
            }

            w.Line();

            // Constructor.
            w.Line($"/// <summary>Creates the optimizer for <paramref name=\"length\"/> parameters, with its state at the initial values and every hyperparameter at its declared default.</summary>");
            w.Line("/// <param name=\"length\">The number of parameters, ≥ 0.</param>");
            string? precision = StateStorage.StateStorageRules.InitialPrecision(model);
            string startPrecision = precision is null ? string.Empty : $"    ChangeStatePrecision(global::OptGen.StatePrecision.{precision});";
            w.Line($"public {model.Type.Name}(int length)");
            w.Line(model.Kernel.Passes is null ? "    : base(RuleDescriptor, length)" : $"    : base(RuleDescriptor, global::OptGen.ParameterLayout.Single(length), {PassBaseArguments(model.Kernel.Passes)})");
            w.Line("{");
            if (precision is not null)
            {
                w.Line(startPrecision);
            }

            w.Line("}");
            w.Line();
            w.Line("/// <summary>Creates the optimizer for the tensors and parameter groups of <paramref name=\"layout\"/>, with its state at the initial values and every hyperparameter at its declared default in every group.</summary>");
            w.Line("/// <param name=\"layout\">The tensors (by length) and parameter groups to update.</param>");
            w.Line($"public {model.Type.Name}(global::OptGen.ParameterLayout layout)");
            w.Line(model.Kernel.Passes is null ? "    : base(RuleDescriptor, layout)" : $"    : base(RuleDescriptor, layout, {PassBaseArguments(model.Kernel.Passes)})");
            w.Line("{");
            if (precision is not null)
            {
                w.Line(startPrecision);
            }

            w.Line("}");

            // Hyperparameters.
            for (int i = 0; i < program.Hyperparameters.Count; i++)
            {
                HyperparameterDecl h = program.Hyperparameters[i];
                w.Line();
                w.Line($"/// <summary>{Xml(h.Summary)} Declared default: {(h.IsBoolean ? (h.DefaultValue != 0 ? "true" : "false") : ExprText.DoubleLiteral(h.DefaultValue))}.</summary>");
                if (h.IsBoolean)
                {
                    w.Open($"public bool {h.Name}");
                    w.Line($"get => GetHyperparameter({i}) != 0;");
                    w.Line($"set => SetHyperparameter({i}, value ? 1 : 0);");
                }
                else
                {
                    w.Line($"/// <exception cref=\"global::System.ArgumentOutOfRangeException\">{h.Name} must be {Xml(HyperparameterRanges.Text(h.Range))}; the property keeps its value.</exception>");
                    w.Open($"public double {h.Name}");
                    w.Line($"get => GetHyperparameter({i});");
                    w.Line($"set => SetHyperparameter({i}, value);");
                }

                w.Close();
            }

            // State views.
            for (int i = 0; i < program.States.Count; i++)
            {
                StateDecl s = program.States[i];
                w.Line();
                Ir.CompactState? compactState = model.Kernel.Passes?.CompactStates.FirstOrDefault(c => c.Symbol == s.Symbol);
                w.Line($"/// <summary>{Xml(s.Summary)} {(compactState is null ? "One value per parameter" : CompactDescription(compactState))}; read-only.</summary>");
                w.Line($"public global::System.ReadOnlySpan<float> {s.Name} => GetState({i});");
            }

            bool hasHostState = program.HostStates.Count > 0;
            if (hasHostState)
            {
                EmitHostStateMembers(w, program);
            }

            // The launch.
            bool random = ExprText.UsesRandom(program.Body);
            string offsetArgument = BatchSizeArgument(program, "arguments.BatchSize") + (random ? ", arguments.ElementOffset" : string.Empty) + InputOffsetArgument(model.Kernel, "arguments.InputOffset");
            string createKernel = hasHostState
                ? $"{kernelType} kernel = CreateKernel(arguments.Hyperparameters, arguments.HostState, arguments.Step, arguments.GradientScale{offsetArgument});"
                : $"{kernelType} kernel = CreateKernel(arguments.Hyperparameters, arguments.Step, arguments.GradientScale{offsetArgument});";
            if (model.Kernel.Passes is { IsScoped: true } scoped)
            {
                EmitScopedLaunches(w, createKernel, scoped);
            }
            else if (model.Kernel.Passes is not null)
            {
                EmitPassLaunches(w, createKernel);
            }
            else
            {
                w.Line();
                w.Line("/// <inheritdoc/>");
                w.Open("protected override void RunKernel<TParameter, TGradient, TState>(scoped in global::OptGen.Kernels.KernelArguments arguments)");
                w.Line(createKernel);
                w.Line($"global::OptGen.Kernels.UpdateDriver.Run<{kernelType}, TParameter, TGradient, TState>(in kernel, in arguments);");
                w.Close();
            }

            // Host scalars.
            w.Line();
            w.Line("/// <summary>Computes the kernel's per-step scalars, in double precision, from the hyperparameters and the step number.</summary>");
            w.Line("/// <param name=\"hyperparameters\">The hyperparameter values, in descriptor order.</param>");
            if (hasHostState)
            {
                w.Line("/// <param name=\"hostState\">The carried host state after this step's advance, in descriptor order.</param>");
            }

            w.Line("/// <param name=\"step\">The step number t = 1, 2, ….</param>");
            w.Line("/// <param name=\"gradientScale\">The runtime's factor on every gradient element.</param>");
            string offsetParameter = BatchSizeParameter(w, program);
            if (random)
            {
                w.Line("/// <param name=\"elementOffset\">The global index of the first element the kernel updates (randn() draws by global index).</param>");
                offsetParameter += ", ulong elementOffset = 0";
            }

            offsetParameter += InputOffsetParameter(w, model.Kernel);

            w.Open(hasHostState
                ? $"internal static {kernelType} CreateKernel(global::System.ReadOnlySpan<double> hyperparameters, global::System.ReadOnlySpan<double> hostState, long step, double gradientScale{offsetParameter})"
                : $"internal static {kernelType} CreateKernel(global::System.ReadOnlySpan<double> hyperparameters, long step, double gradientScale{offsetParameter})");
            var used = new HashSet<string>(program.Host.SelectMany(h => Leaves(h.Value)).Where(e => e.Op == ExprOp.Hyperparameter).Select(e => e.Name));
            bool usesT = program.Host.SelectMany(h => Leaves(h.Value)).Any(e => e.Op == ExprOp.StepNumber);
            if (usesT)
            {
                w.Line("double t = step;");
            }

            for (int i = 0; i < program.Hyperparameters.Count; i++)
            {
                if (used.Contains(program.Hyperparameters[i].Name))
                {
                    w.Line($"double {Camel(program.Hyperparameters[i].Name)} = hyperparameters[{i}];");
                }
            }

            for (int i = 0; i < program.HostStates.Count; i++)
            {
                w.Line($"double {Camel(program.HostStates[i].Name)} = hostState[{i}];");
            }

            foreach (HostStatement h in program.Host)
            {
                w.Line();
                w.Line($"// {h.Name} = {(h.Symbol.Length > 0 ? h.Symbol + " = " : string.Empty)}{h.Comment}");
                w.Line($"double {h.Name} = {ExprText.Print(h.Value, ExprFlavor.HostDouble, HostName)};");
            }

            EmitScalarChecks(w, program);
            w.Line();
            w.Line($"return new {kernelType}(");
            w.Indent();
            EquatableArray<HostStatement> scalars = program.KernelScalars;
            for (int i = 0; i < scalars.Count; i++)
            {
                w.Line($"{Camel(scalars[i].Name)}: (float){scalars[i].Name}{(i == scalars.Count - 1 && !random && model.Kernel.Inputs.Count == 0 ? ");" : ",")}");
            }

            if (random)
            {
                // The seed is the rule's hyperparameter named Seed (a whole number), or 0 when it declares none.
                int seed = -1;
                for (int k = 0; k < program.Hyperparameters.Count && seed < 0; k++)
                {
                    seed = program.Hyperparameters[k].Name == Ir.HostReads.SeedHyperparameter ? k : -1;
                }

                w.Line($"randomKey: global::OptGen.Kernels.CounterRandom.Key({(seed >= 0 ? $"hyperparameters[{seed}]" : "0.0")}, step),");
                w.Line(model.Kernel.Inputs.Count == 0 ? "elementOffset: elementOffset);" : "elementOffset: elementOffset,");
            }

            if (model.Kernel.Inputs.Count > 0)
            {
                w.Line($"{Camel(InputOffsetField)}: {Camel(InputOffsetField)});");
            }

            w.Outdent();
            w.Close();
            EmitValidateStepScalars(w, hasHostState, UsesBatchSize(program));

            w.Close();
            for (int i = 0; i < model.Type.ContainingTypes.Count; i++)
            {
                w.Close();
            }

            if (model.Type.Namespace.Length > 0)
            {
                w.Close();
            }

            return w.ToString();
        }

        /// <summary>
        /// The kernel struct's first members, for the fused kernel and the passes of a rule with reductions alike: its
        /// float32 traffic constants (<paramref name="scope"/> says over what, e.g. " (both passes)") and a field per
        /// per-step scalar with its formula.
        /// </summary>
        private static void EmitTrafficAndScalarFields(SourceWriter w, KernelModel kernel, IReadOnlyList<string>? scalarNotes, string scope)
        {
            w.Line($"/// <summary>Bytes read per element and step with float32 storage{scope}.</summary>");
            w.Line($"public const int BytesRead = {kernel.BytesRead};");
            w.Line();
            w.Line($"/// <summary>Bytes written per element and step with float32 storage{scope}.</summary>");
            w.Line($"public const int BytesWritten = {kernel.BytesWritten};");
            for (int i = 0; i < kernel.ScalarNames.Count; i++)
            {
                string scalar = kernel.ScalarNames[i];
                string note = scalarNotes is not null && i < scalarNotes.Count && scalarNotes[i].Length > 0 ? " = " + scalarNotes[i] : string.Empty;
                w.Line();
                w.Line($"/// <summary>Per-step scalar {scalar}{Xml(note)} (computed in double by the optimizer's <c>CreateKernel</c> once per step, then rounded to float32).</summary>");
                w.Line($"public readonly float {scalar};");
            }
        }

        public static string EmitKernel(KernelModel kernel, IReadOnlyList<string> users, IReadOnlyList<string>? scalarNotes = null)
        {
            if (kernel.Passes is not null)
            {
                return EmitPassKernel(kernel, users, scalarNotes);
            }

            var w = new SourceWriter();
            Header(w);
            w.Open("namespace " + KernelNamespace);
            w.Line("/// <summary>");
            w.Line("/// The fused per-element update of " + string.Join(", ", users.Select(u => $"<see cref=\"global::{u}\"/>")) + ".");
            w.Line("/// </summary>");
            w.Line("/// <remarks>");
            w.Line("/// <para>Per element, in float32, with the per-step scalars computed on the host:</para>");
            w.Line("/// <code>");
            foreach (ElementStatement s in kernel.Body)
            {
                w.Line("/// " + Xml($"{s.Target} = {Ir.CanonicalForm.Expression(s.Value)}"));
            }

            w.Line("/// </code>");
            w.Line("/// <para>No fused multiply-add is used: every product is rounded to float32 before it is added, as PyTorch's");
            w.Line("/// CPU kernels and the ILGPU kernel compute it, so the scalar path and every SIMD width give bit-identical results.</para>");
            w.Line("/// <para>" + Xml(Traffic(kernel)) + "</para>");
            w.Line("/// </remarks>");
            w.Line(GeneratedCodeAttribute);
            w.Open($"internal readonly struct {kernel.Name} : global::OptGen.Kernels.IUpdateKernel");
            EmitTrafficAndScalarFields(w, kernel, scalarNotes, string.Empty);

            bool random = ExprText.UsesRandom(kernel.Body);
            var constructorParameters = kernel.ScalarNames.Select(s => "float " + Camel(s)).ToList();
            if (random)
            {
                w.Line();
                w.Line("/// <summary>The step's random key, from the seed and t (<see cref=\"global::OptGen.Kernels.CounterRandom.Key\"/>).</summary>");
                w.Line($"public readonly ulong {ExprText.RandomKeyName};");
                w.Line();
                w.Line("/// <summary>The global index of the element the Step methods call element 0: randn() draws by global index.</summary>");
                w.Line("public readonly ulong ElementOffset;");
                constructorParameters.Add("ulong randomKey");
                constructorParameters.Add("ulong elementOffset");
            }

            EmitInputField(w, kernel, constructorParameters);
            w.Line();
            w.Line("/// <summary>Creates the kernel for one step from its per-step scalars.</summary>");
            w.Open($"public {kernel.Name}({string.Join(", ", constructorParameters)})");
            foreach (string scalar in kernel.ScalarNames)
            {
                w.Line($"{scalar} = {Camel(scalar)};");
            }

            if (random)
            {
                w.Line($"{ExprText.RandomKeyName} = randomKey;");
                w.Line("ElementOffset = elementOffset;");
            }

            EmitInputAssignment(w, kernel);
            w.Close();
            w.Line();
            w.Line("/// <inheritdoc/>");
            w.Line($"public static int StateCount => {kernel.StateSymbols.Count};");

            // The update, written once per width.
            foreach (ExprFlavor flavor in new[] { ExprFlavor.ElementScalar, ExprFlavor.Vector128, ExprFlavor.Vector256, ExprFlavor.Vector512 })
            {
                string type = flavor == ExprFlavor.ElementScalar ? "float" : $"{Vectors}{flavor}<float>";
                var parameters = new List<string> { $"ref {type} p", $"{type} g" };
                parameters.AddRange(InputParameters(kernel, type));
                parameters.AddRange(kernel.StateSymbols.Select(s => $"ref {type} {s}"));
                if (random)
                {
                    parameters.Insert(0, "ulong " + ExprText.IndexName);
                }

                w.Line();
                w.Line(flavor == ExprFlavor.ElementScalar
                    ? "/// <summary>Updates one element: the same code the SIMD overloads and the GPU kernel run.</summary>"
                    : $"/// <summary>Updates {VectorCount(flavor)} elements at once.</summary>");
                w.Line("[global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]");
                w.Open($"public void Invoke({string.Join(", ", parameters)})");
                bool firstStatement = true;
                foreach (ElementStatement s in kernel.Body)
                {
                    if (!firstStatement)
                    {
                        w.Line();
                    }

                    firstStatement = false;
                    w.Line("// " + s.Comment);
                    string value = ExprText.Print(s.Value, flavor, static (_, n) => n);
                    w.Line(s.DeclaresLocal ? $"{(flavor == ExprFlavor.ElementScalar ? "float" : "var")} {s.Target} = {value};" : $"{s.Target} = {value};");
                }

                w.Close();
            }

            // Memory access: load, update, store.
            HashSet<string> read = Ir.StateAccess.Read(kernel.Body, kernel.StateSymbols);
            HashSet<string> written = Ir.StateAccess.Written(kernel.Body, kernel.StateSymbols);
            foreach (string width in new[] { string.Empty, "128", "256", "512" })
            {
                string type = width.Length == 0 ? "float" : $"{Vectors}Vector{width}<float>";
                w.Line();
                w.Line("/// <inheritdoc/>");
                w.Line("[global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]");
                w.Line($"public void Step{width}<TParameter, TGradient, TState>(ref byte parameters, ref byte gradients, ref byte state, nuint stride, nuint i)");
                w.Line($"    where TParameter : struct, {Codec}");
                w.Line($"    where TGradient : struct, {Codec}");
                w.Line($"    where TState : struct, {Codec}");
                w.Line("{");
                w.Indent();
                w.Line($"{type} p = TParameter.Load{width}(ref parameters, i);");
                w.Line($"{type} g = TGradient.Load{width}(ref gradients, i);");
                EmitInputLoads(w, kernel, type, width);
                for (int k = 0; k < kernel.StateSymbols.Count; k++)
                {
                    // A state the rule overwrites before any read is not loaded.
                    w.Line(read.Contains(kernel.StateSymbols[k])
                        ? $"{type} {kernel.StateSymbols[k]} = TState.Load{width}(ref state, {Offset(k)});"
                        : $"{type} {kernel.StateSymbols[k]} = default;");
                }

                w.Line($"Invoke({(random ? "ElementOffset + i, " : string.Empty)}ref p, g{InputArguments(kernel)}{string.Concat(kernel.StateSymbols.Select(s => ", ref " + s))});");
                w.Line($"TParameter.Store{width}(ref parameters, i, p);");
                for (int k = 0; k < kernel.StateSymbols.Count; k++)
                {
                    if (written.Contains(kernel.StateSymbols[k]))
                    {
                        w.Line($"TState.Store{width}(ref state, {Offset(k)}, {kernel.StateSymbols[k]});");
                    }
                }

                w.Close();
            }

            w.Close();
            w.Close();
            return w.ToString();
        }

        // Host code: hyperparameters and runtime inputs are camelCase locals; host statements keep their
        // PascalCase names, the names of the kernel fields they become.
        private static string HostName(Expr e, string name) => e.Op switch
        {
            ExprOp.Hyperparameter or ExprOp.RuntimeInput or ExprOp.HostState => Camel(name),
            _ => name,
        };

        private static string Offset(int k) => k switch
        {
            0 => "i",
            1 => "stride + i",
            _ => $"({k} * stride) + i",
        };

        private static int VectorCount(ExprFlavor flavor) => flavor switch
        {
            ExprFlavor.Vector128 => 4,
            ExprFlavor.Vector256 => 8,
            _ => 16,
        };

        internal static string Traffic(KernelModel kernel)
        {
            if (kernel.Passes is Ir.PassPlan passes)
            {
                return PassTotal(passes);
            }

            var states = kernel.StateSymbols;
            HashSet<string> read = Ir.StateAccess.Read(kernel.Body, states);
            HashSet<string> written = Ir.StateAccess.Written(kernel.Body, states);
            string reads = string.Join(", ", new[] { "p", "g" }.Concat(kernel.Inputs).Concat(states.Where(read.Contains)));
            string writes = string.Join(", ", new[] { "p" }.Concat(states.Where(written.Contains)));
            return $"Memory traffic per element and step (float32): {kernel.BytesRead} bytes read ({reads}) + {kernel.BytesWritten} bytes written ({writes}) = {kernel.BytesRead + kernel.BytesWritten} bytes.";
        }

        /// <summary>The same traffic with 8-bit and 4-bit blockwise state (<see cref="StateTraffic"/>, the runtime's definition).</summary>
        internal static string BlockwiseTraffic(KernelModel kernel)
        {
            int inputs = kernel.Inputs.Count, read = (kernel.BytesRead / 4) - 2 - inputs, written = (kernel.BytesWritten / 4) - 1;
            string Total(int bits) =>
                $"{Number(StateTraffic.Read(read, bits, inputs))} read + {Number(StateTraffic.Written(written, bits))} written = {Number(StateTraffic.Read(read, bits, inputs) + StateTraffic.Written(written, bits))} bytes";
            return $"With 8-bit blockwise state (StatePrecision.Int8Blockwise: one code byte per value and a float32 absmax per 256): {Total(8)}; with 4-bit (half a byte, an absmax per 128): {Total(4)}.";

            static string Number(double value) => value.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);
        }

        private static void Header(SourceWriter w)
        {
            w.Line("// <auto-generated/>");
            w.Line("// Generated by the OptGen source generator from the optimizer's attributes. Do not edit: change the attributes.");
            w.Line("#nullable enable");
            w.Line();
        }

        private static IEnumerable<Expr> Leaves(Expr e) => e.Args.Count == 0 ? new[] { e } : e.Args.SelectMany(Leaves);

        private static int IndexOf(EquatableArray<HyperparameterDecl> hyperparameters, string name)
        {
            for (int i = 0; i < hyperparameters.Count; i++)
            {
                if (hyperparameters[i].Name == name)
                {
                    return i;
                }
            }

            return -1;
        }

        internal static string Camel(string name)
        {
            string camel = char.ToLowerInvariant(name[0]) + name.Substring(1);
            return Microsoft.CodeAnalysis.CSharp.SyntaxFacts.GetKeywordKind(camel) != Microsoft.CodeAnalysis.CSharp.SyntaxKind.None ? "@" + camel : camel;
        }

        internal static string Literal(string text) => Microsoft.CodeAnalysis.CSharp.SymbolDisplay.FormatLiteral(text, quote: true);

        internal static string Xml(string text) => text.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
    }
}
